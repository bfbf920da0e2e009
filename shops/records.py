"""Platform-neutral records that importers and sync code hand to the catalog and order services.

Plain frozen dataclasses with no Django import, so that parsers, generators and platform clients
can build them without touching the ORM.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal


class ProductStatus:
    PUBLISHED = "published"
    DRAFT = "draft"
    ARCHIVED = "archived"
    # Live on the platform but kept out of search and recommendations (Shopify UNLISTED,
    # WooCommerce catalog visibility "hidden").
    UNLISTED = "unlisted"
    # Deleted (or trashed) on the platform. The row stays so that past baskets keep their
    # product and a restore brings it back with its history.
    DELETED = "deleted"


class OrderStatus:
    PAID = "paid"
    PENDING = "pending"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"
    FAILED = "failed"
    TEST = "test"


@dataclass(frozen=True)
class ProductRecord:
    external_id: str
    title: str
    price: Decimal
    handle: str = ""
    url: str = ""
    image_url: str = ""
    category: str = ""
    vendor: str = ""
    tags: tuple[str, ...] = ()
    description: str = ""
    status: str = ProductStatus.PUBLISHED
    in_stock: bool = True
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None


# The storefront blocks a widget add-to-cart can come from, and the key of the mark the widget
# (Shopify line item property) and the plugin (WooCommerce order item meta) put on the cart line.
ATTRIBUTION_BLOCKS = ("related", "bought_together", "cart", "personal")
ATTRIBUTION_KEY = "_basketry"


def attribution_block(pairs: object, *, key_field: str, value_field: str) -> str:
    """The block a line's `_basketry` mark names (line item properties, custom attributes, item
    meta), if it is one of Basketry's; anything else is not an attribution."""
    for pair in pairs or []:
        if isinstance(pair, dict) and pair.get(key_field) == ATTRIBUTION_KEY:
            value = str(pair.get(value_field) or "")
            return value if value in ATTRIBUTION_BLOCKS else ""
    return ""


# The order-level mark of an A/B test the shopper took part in: a Shopify cart attribute (order
# note attributes / custom attributes) or WooCommerce order meta, "<experiment id>:<arm>".
EXPERIMENT_KEY = "_basketry_experiment"
_EXPERIMENT_MARK = re.compile(r"^[0-9]{1,12}:[A-C]$")


def experiment_mark(pairs: object, *, key_field: str, value_field: str) -> str:
    """The experiment and arm an order's mark names, if well formed; anything else is ignored."""
    for pair in pairs or []:
        if isinstance(pair, dict) and pair.get(key_field) == EXPERIMENT_KEY:
            value = str(pair.get(value_field) or "").strip()
            return value if _EXPERIMENT_MARK.match(value) else ""
    return ""


@dataclass(frozen=True)
class OrderLineRecord:
    product_external_id: str
    quantity: int
    unit_price: Decimal
    variant_id: str = ""
    # The Basketry block the shopper added this line from (the cart line's mark), or "".
    source_block: str = ""


@dataclass(frozen=True)
class OrderRecord:
    external_id: str
    created_at: dt.datetime
    lines: tuple[OrderLineRecord, ...]
    # The platform's own customer id. It is hashed with the shop's secret before anything is
    # stored and never persisted as given; None means a guest order.
    customer_id: str | None = None
    status: str = OrderStatus.PAID
    # Already the shop's keyed hash (set where a platform id was hashed on arrival); wins over customer_id.
    customer_ref: str | None = None
    currency: str = ""
    # None: the sum of the lines.
    total: Decimal | None = None
    # "<experiment id>:<arm>" of the A/B test the shopper was in, or "".
    experiment_mark: str = ""
