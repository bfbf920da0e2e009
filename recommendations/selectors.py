"""Reads for recommendations."""

from __future__ import annotations

from recommendations.models import DataProfile

# Below these counts co-purchase statistics are mostly noise; the thresholds are deliberately
# modest so that a small shop hears "almost there", not "never".
MIN_MULTI_ITEM_ORDERS_FOR_BOUGHT_TOGETHER = 50
MIN_CUSTOMERS_FOR_PERSONAL = 30


def data_profile_get() -> DataProfile | None:
    """The profile of the shop in scope, or None if it was never computed."""
    return DataProfile.objects.first()


def data_readiness_summary(*, profile: DataProfile) -> str:
    """One line a merchant can read: what the data supports, with the numbers behind it."""
    share = round(profile.multi_item_share * 100)
    bought_together = (
        "enough for bought-together"
        if profile.multi_item_orders >= MIN_MULTI_ITEM_ORDERS_FOR_BOUGHT_TOGETHER
        else f"bought-together needs {MIN_MULTI_ITEM_ORDERS_FOR_BOUGHT_TOGETHER} multi-item orders"
    )
    personal = (
        "enough for personal picks"
        if profile.customers >= MIN_CUSTOMERS_FOR_PERSONAL
        else f"personal picks need {MIN_CUSTOMERS_FOR_PERSONAL} known customers"
    )
    return (
        f"{profile.paid_orders} orders, {share}% with 2+ items: {bought_together}; "
        f"{profile.customers} customers: {personal}; "
        f"{profile.sellable_products} of {profile.products} products on sale, {profile.products_with_sales} with sales."
    )
