"""The data profile: counts that tell what a shop's data can support."""

from __future__ import annotations

from django.db.models import Count, Max, Min, Q
from django.utils import timezone

from recommendations.models import DataProfile
from shops.models import SELLABLE, Order, OrderLine, Product, Shop


def data_profile_refresh(*, shop: Shop) -> DataProfile:
    """Recount the shop's orders and products and store the result. Must run in the shop's scope."""
    paid = Order.objects.filter(status=Order.Status.PAID)
    order_stats = paid.aggregate(
        paid_orders=Count("pk"),
        customers=Count("customer_ref", distinct=True),
        guest_orders=Count("pk", filter=Q(customer_ref__isnull=True)),
        first_order_at=Min("created_at"),
        last_order_at=Max("created_at"),
    )
    paid_lines = OrderLine.objects.filter(order__status=Order.Status.PAID, product__isnull=False)
    multi_item_orders = (
        paid_lines.values("order_id")
        .annotate(distinct_products=Count("product_id", distinct=True))
        .filter(distinct_products__gte=2)
        .count()
    )
    product_stats = Product.objects.aggregate(
        products=Count("pk"),
        sellable_products=Count("pk", filter=SELLABLE),
    )
    values = {
        **order_stats,
        **product_stats,
        "multi_item_orders": multi_item_orders,
        "order_lines": paid_lines.count(),
        "products_with_sales": paid_lines.values("product_id").distinct().count(),
        "computed_at": timezone.now(),
    }
    profile, _ = DataProfile.objects.update_or_create(defaults=values)
    return profile
