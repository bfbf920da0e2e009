"""Load a shop's catalogue and paid orders into the engine's arrays (the training read path)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recommendations.engine.data import Catalog, Orders, orders_from_lines
from recommendations.rules import ProductFacts
from shops.models import Order, OrderLine, Product

_CHUNK = 20_000


@dataclass(frozen=True)
class TrainingData:
    catalog: Catalog
    orders: Orders
    # Item index -> Product pk, and user index -> customer ref.
    product_pks: np.ndarray
    customer_refs: list[str]

    def facts(self, popularity: np.ndarray) -> dict[int, ProductFacts]:
        """Rule-engine facts for every product, keyed by pk."""
        catalog = self.catalog
        return {
            int(pk): ProductFacts(
                pk=int(pk),
                title=catalog.titles[index],
                category=catalog.categories[index],
                vendor=catalog.vendors[index],
                tags=frozenset(catalog.tags[index]),
                price=float(catalog.prices[index]),
                sellable=bool(catalog.sellable[index]),
                popularity=float(popularity[index]),
            )
            for index, pk in enumerate(self.product_pks)
        }


def training_data_load() -> TrainingData:
    """Every product and every paid order of the shop in scope, as arrays. Guests keep user -1."""
    rows = list(
        Product.objects.order_by("pk").values_list(
            "pk", "title", "description", "category", "vendor", "tags", "price", "created_at", "status", "in_stock"
        )
    )
    product_pks = np.array([row[0] for row in rows], dtype=np.int64)
    item_of = {int(pk): index for index, pk in enumerate(product_pks)}
    catalog = Catalog(
        titles=[row[1] for row in rows],
        descriptions=[row[2] for row in rows],
        categories=[row[3] for row in rows],
        vendors=[row[4] for row in rows],
        tags=[tuple(row[5] or ()) for row in rows],
        prices=np.array([float(row[6]) for row in rows], dtype=np.float64),
        created_at=np.array([row[7].timestamp() for row in rows], dtype=np.float64),
        sellable=np.array([Product.sellable_from(row[8], row[9]) for row in rows], dtype=bool),
    )

    paid = Order.objects.filter(status=Order.Status.PAID)
    order_rows = list(paid.order_by("created_at", "pk").values_list("pk", "created_at", "customer_ref"))
    order_of = {pk: index for index, (pk, _, _) in enumerate(order_rows)}
    user_of: dict[str, int] = {}
    order_user = np.array(
        [user_of.setdefault(ref, len(user_of)) if ref else -1 for _, _, ref in order_rows], dtype=np.int32
    )
    order_time = np.array([created.timestamp() for _, created, _ in order_rows], dtype=np.float64)

    lines = (
        OrderLine.objects.filter(order__status=Order.Status.PAID, product__isnull=False)
        .values_list("order_id", "product_id", "quantity")
        .iterator(chunk_size=_CHUNK)
    )
    line_order, line_item, line_quantity = [], [], []
    for order_id, product_id, quantity in lines:
        line_order.append(order_of[order_id])
        line_item.append(item_of[product_id])
        line_quantity.append(quantity)
    orders = orders_from_lines(
        order_time=order_time,
        order_user=order_user,
        line_order=np.array(line_order, dtype=np.int64),
        line_item=np.array(line_item, dtype=np.int64),
        n_users=len(user_of),
        line_quantity=np.array(line_quantity, dtype=np.float32),
    )
    return TrainingData(catalog=catalog, orders=orders, product_pks=product_pks, customer_refs=list(user_of))
