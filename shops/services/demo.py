"""Loading a generated demo shop through the same services real imports use."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from shops.demo.generator import DemoShop
from shops.models import Order, OrderLine, Product, Shop
from shops.services.catalog import product_bulk_upsert
from shops.services.maintenance import table_statistics_refresh
from shops.services.orders import order_bulk_import

_ORDERS_PER_BATCH = 1000


@dataclass(frozen=True)
class DemoLoadResult:
    products: int
    orders_created: int
    orders_already_present: int


def demo_shop_load(*, shop: Shop, demo: DemoShop) -> DemoLoadResult:
    """Upsert the demo catalogue and insert the demo orders not stored yet (idempotent).

    Must run inside the shop's scope.
    """
    with transaction.atomic():
        product_ids = product_bulk_upsert(shop=shop, records=demo.products)
        created = already_present = 0
        for start in range(0, len(demo.orders), _ORDERS_PER_BATCH):
            result = order_bulk_import(
                shop=shop, records=demo.orders[start : start + _ORDERS_PER_BATCH], product_ids=product_ids
            )
            created += len(result.created)
            already_present += len(result.already_present)
    if created:
        table_statistics_refresh(models_changed=[Product, Order, OrderLine])
    return DemoLoadResult(products=len(product_ids), orders_created=created, orders_already_present=already_present)
