"""Load the UCI Online Retail file as engine arrays, without Django or a database.

For engine experiments and the quality benchmark's offline part. Uses the project's own reader,
so cleaning rules are the importer's.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from integrations.csv.online_retail import OnlineRetailReader
from recommendations.engine.data import Catalog, Orders, orders_from_lines

DEFAULT_PATH = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "online-retail" / "online_retail.csv.gz"


def load_online_retail(path: Path = DEFAULT_PATH) -> tuple[Catalog, Orders, list[str]]:
    """(catalog, paid orders, item external ids). Guests keep user -1."""
    item_index: dict[str, int] = {}
    user_index: dict[str, int] = {}
    order_time, order_user, line_order, line_item, line_quantity = [], [], [], [], []
    with open(path, "rb") as raw:
        reader = OnlineRetailReader(raw, name=str(path), timezone_name="Europe/London")
        for number, order in enumerate(reader):
            order_time.append(order.created_at.timestamp())
            order_user.append(user_index.setdefault(order.customer_id, len(user_index)) if order.customer_id else -1)
            for line in order.lines:
                line_order.append(number)
                line_item.append(item_index.setdefault(line.product_external_id, len(item_index)))
                line_quantity.append(line.quantity)
        products = reader.products
    external_ids = list(item_index)
    titles = [products[code].title for code in external_ids]
    n = len(external_ids)
    catalog = Catalog(
        titles=titles,
        descriptions=[""] * n,
        categories=[""] * n,
        vendors=[""] * n,
        tags=[()] * n,
        prices=np.array([float(products[code].price) for code in external_ids]),
        created_at=np.array([products[code].created_at.timestamp() for code in external_ids]),
        sellable=np.ones(n, dtype=bool),
    )
    orders = orders_from_lines(
        order_time=np.array(order_time),
        order_user=np.array(order_user),
        line_order=np.array(line_order),
        line_item=np.array(line_item),
        n_users=len(user_index),
        line_quantity=np.array(line_quantity, dtype=np.float32),
    )
    return catalog, orders, external_ids
