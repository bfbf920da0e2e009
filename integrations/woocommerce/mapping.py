"""WooCommerce's REST shapes (v3) to Basketry's records. Only what recommendations need
survives: never billing or shipping details, names or emails; the customer id is hashed before
anything is written."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from integrations.parsing import PayloadInvalid, money, plain_text
from shops.records import (
    OrderLineRecord,
    OrderRecord,
    OrderStatus,
    ProductRecord,
    ProductStatus,
    attribution_block,
    experiment_mark,
)

# Shown in the shop and in its recommendations; "search" (search results only) and "hidden" are
# the merchant saying "not in listings".
_LISTED = {"visible", "catalog"}
ORDER_STATUSES = {
    "processing": OrderStatus.PAID,
    "completed": OrderStatus.PAID,
    "on-hold": OrderStatus.PENDING,
    "pending": OrderStatus.PENDING,
    "cancelled": OrderStatus.CANCELLED,
    "refunded": OrderStatus.REFUNDED,
    "failed": OrderStatus.FAILED,
}


def woo_id(value: object) -> str:
    text = str(value if value is not None else "").strip()
    if not text.isdigit() or text == "0":
        raise PayloadInvalid(f"not a WooCommerce id: {value!r}")
    return text


def gmt_time(value: object) -> dt.datetime | None:
    """WooCommerce's `*_gmt` fields: ISO 8601 without an offset, in UTC."""
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as error:
        raise PayloadInvalid(f"not a timestamp: {value!r}") from error
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _status(product: dict) -> str:
    status = str(product.get("status") or "publish")
    if status == "trash":
        return ProductStatus.DELETED
    if status != "publish":
        return ProductStatus.DRAFT  # draft, pending, private: not for shoppers
    if str(product.get("catalog_visibility") or "visible") not in _LISTED:
        return ProductStatus.UNLISTED
    return ProductStatus.PUBLISHED


def product_from_woo(product: dict, variations: list[dict] | None = None) -> ProductRecord:
    """A product; for a variable product its variations (when fetched) decide stock and price."""
    if not isinstance(product, dict) or "id" not in product:
        raise PayloadInvalid("product without an id")
    sellable = ("instock", "onbackorder")
    if variations:
        in_stock = any(v.get("stock_status") in sellable for v in variations)
        prices = [money(v["price"]) for v in variations if v.get("price") not in (None, "")]
        price = min(prices) if prices else money(product.get("price"))
    else:
        in_stock = product.get("stock_status", "instock") in sellable
        price = money(product.get("price"))
    categories = [c for c in product.get("categories") or [] if isinstance(c, dict)]
    images = [i for i in product.get("images") or [] if isinstance(i, dict)]
    tags = [str(t.get("name") or "").strip() for t in product.get("tags") or [] if isinstance(t, dict)]
    tags += [f"category:{c['slug']}" for c in categories[1:] if c.get("slug")]
    return ProductRecord(
        external_id=woo_id(product["id"]),
        title=plain_text(product.get("name")) or f"Product {product['id']}",
        price=price,
        handle=str(product.get("slug") or ""),
        url=str(product.get("permalink") or ""),
        image_url=str(images[0].get("src") or "") if images else "",
        category=str(categories[0].get("name") or "") if categories else "",
        tags=tuple(dict.fromkeys(tag for tag in tags if tag)),
        description=plain_text(product.get("short_description") or product.get("description"))[:5000],
        status=_status(product),
        in_stock=in_stock,
        created_at=gmt_time(product.get("date_created_gmt")),
        updated_at=gmt_time(product.get("date_modified_gmt")),
    )


def order_from_woo(order: dict) -> tuple[OrderRecord | None, dt.datetime | None, dict[str, str]]:
    """(record, date_modified_gmt, {product id: line name}); no record for statuses that are not
    orders yet (checkout drafts) or are trashed."""
    if not isinstance(order, dict) or "id" not in order:
        raise PayloadInvalid("order without an id")
    status = ORDER_STATUSES.get(str(order.get("status") or ""))
    modified = gmt_time(order.get("date_modified_gmt"))
    if status is None:
        return None, modified, {}
    lines = []
    titles: dict[str, str] = {}
    for item in order.get("line_items") or []:
        if not isinstance(item, dict) or not item.get("product_id"):
            continue  # a deleted product leaves product_id 0
        quantity = int(item.get("quantity") or 0)
        if quantity <= 0:
            continue
        product_id = woo_id(item["product_id"])
        titles[product_id] = str(item.get("name") or "")
        # `price` is a number (unit price after discounts); `subtotal / quantity` is the same
        # before discounts and exists on every version.
        unit = item.get("price")
        unit_price = money(unit) if unit not in (None, "") else money(item.get("subtotal")) / quantity
        lines.append(
            OrderLineRecord(
                product_external_id=product_id,
                quantity=quantity,
                unit_price=unit_price.quantize(Decimal("0.0001")),
                variant_id=str(item.get("variation_id") or "") if item.get("variation_id") else "",
                source_block=attribution_block(item.get("meta_data"), key_field="key", value_field="value"),
            )
        )
    created = gmt_time(order.get("date_created_gmt"))
    if created is None:
        raise PayloadInvalid("order without date_created_gmt")
    customer = str(order.get("customer_id") or "0")
    record = OrderRecord(
        external_id=woo_id(order["id"]),
        created_at=created,
        lines=tuple(lines),
        customer_id=customer if customer not in ("", "0") else None,
        status=status,
        currency=str(order.get("currency") or "")[:3],
        total=money(order["total"]) if order.get("total") not in (None, "") else None,
        experiment_mark=experiment_mark(order.get("meta_data"), key_field="key", value_field="value"),
    )
    return record, modified, titles
