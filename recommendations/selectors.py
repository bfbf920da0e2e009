"""Reads for recommendations."""

from __future__ import annotations

from recommendations.models import DataProfile, MerchantRule, ModelVersion, RecommendationList
from recommendations.readiness import MIN_CUSTOMERS_WITH_HISTORY, MIN_MULTI_ITEM_ORDERS
from recommendations.rules import ProductFacts, Rule
from shops.models import OrderLine, Product


def data_readiness_summary(*, profile: DataProfile) -> str:
    """One line a merchant can read: what the data supports, with the numbers behind it."""
    share = round(profile.multi_item_share * 100)
    bought_together = (
        "enough for bought-together"
        if profile.multi_item_orders >= MIN_MULTI_ITEM_ORDERS
        else f"bought-together needs {MIN_MULTI_ITEM_ORDERS} multi-item orders"
    )
    personal = (
        "enough for personal picks"
        if profile.customers >= MIN_CUSTOMERS_WITH_HISTORY
        else f"personal picks need {MIN_CUSTOMERS_WITH_HISTORY} known customers"
    )
    return (
        f"{profile.paid_orders} orders, {share}% with 2+ items: {bought_together}; "
        f"{profile.customers} customers: {personal}; "
        f"{profile.sellable_products} of {profile.products} products on sale, {profile.products_with_sales} with sales."
    )


def merchant_rules_active() -> list[Rule]:
    """The enabled rules of the shop in scope, in order, as the pure rule engine takes them."""
    return [
        Rule(kind=rule.kind, params=rule.params, list_kinds=frozenset(rule.list_kinds), name=rule.name)
        for rule in MerchantRule.objects.filter(enabled=True).order_by("position", "pk")
    ]


def model_version_live() -> ModelVersion | None:
    return ModelVersion.objects.filter(status=ModelVersion.Status.LIVE).first()


def recommendation_list_get(*, version: ModelVersion, kind: str, anchor: str) -> list[dict] | None:
    """The stored list of the live version, or None when it has none for this anchor."""
    return (
        RecommendationList.objects.filter(version=version, kind=kind, anchor=anchor)
        .values_list("items", flat=True)
        .first()
    )


def product_facts_all() -> dict[int, ProductFacts]:
    """Facts of every product of the shop in scope, for applying rules when reading lists."""
    return {
        pk: ProductFacts(
            pk=pk,
            title=title,
            category=category,
            vendor=vendor,
            tags=frozenset(tags or ()),
            price=float(price),
            sellable=status == Product.Status.PUBLISHED and in_stock,
        )
        for pk, title, category, vendor, tags, price, status, in_stock in Product.objects.values_list(
            "pk", "title", "category", "vendor", "tags", "price", "status", "in_stock"
        )
    }


def customer_product_ids(*, customer_ref: str) -> set[int]:
    """Products the customer has bought in any order of the shop in scope (paid or not)."""
    return set(
        OrderLine.objects.filter(order__customer_ref=customer_ref, product__isnull=False).values_list(
            "product_id", flat=True
        )
    )
