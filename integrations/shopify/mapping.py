"""Shopify's shapes to Basketry's records: REST webhook payloads and GraphQL (bulk) nodes.

Only what recommendations need survives: no customer fields but the id (hashed later), no
addresses, emails, notes or shipping lines.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from integrations.parsing import PayloadInvalid, money, plain_text
from integrations.shopify.auth import customer_id_from_gid
from shops.records import (
    OrderLineRecord,
    OrderRecord,
    OrderStatus,
    ProductRecord,
    ProductStatus,
    attribution_block,
    experiment_mark,
)

PRODUCT_STATUSES = {
    "active": ProductStatus.PUBLISHED,
    "draft": ProductStatus.DRAFT,
    "archived": ProductStatus.ARCHIVED,
    "unlisted": ProductStatus.UNLISTED,
}
PAID_LIKE = {"paid", "partially_paid", "partially_refunded"}
REFUNDED_LIKE = {"refunded", "voided"}


def numeric_id(value: object) -> str:
    """`gid://shopify/Product/1001` and `1001` are the same product."""
    text = value if type(value) is str else str(value if value is not None else "")
    prefix, _, text = text.strip().rpartition("/")
    if (prefix and not prefix.startswith("gid://shopify/")) or not text.isdigit():
        raise PayloadInvalid(f"not a Shopify id: {value!r}")
    return text


def parse_time(value: object) -> dt.datetime | None:
    if not value:
        return None
    text = str(value).replace("Z", "+00:00")
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError as error:
        raise PayloadInvalid(f"not a timestamp: {value!r}") from error
    if parsed.tzinfo is None:
        raise PayloadInvalid(f"timestamp without a time zone: {value!r}")
    return parsed


def _tags(value: object) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else list(value or [])
    return tuple(dict.fromkeys(str(tag).strip() for tag in items if str(tag).strip()))


def _order_status(*, financial: str, cancelled: bool, test: bool) -> str:
    if test:
        return OrderStatus.TEST
    if cancelled:
        return OrderStatus.CANCELLED
    financial = (financial or "").lower()
    if financial in PAID_LIKE:
        return OrderStatus.PAID
    if financial in REFUNDED_LIKE:
        return OrderStatus.REFUNDED
    return OrderStatus.PENDING


# --- REST (webhook payloads) -------------------------------------------------------------------


def product_from_rest(payload: dict, *, domain: str) -> ProductRecord:
    if not isinstance(payload, dict) or "id" not in payload:
        raise PayloadInvalid("product payload without an id")
    variants = [v for v in payload.get("variants") or [] if isinstance(v, dict)]
    prices = [money(v.get("price")) for v in variants if v.get("price") not in (None, "")]
    image = payload.get("image") or next(iter(payload.get("images") or []), None) or {}
    handle = str(payload.get("handle") or "")
    # Product webhooks no longer carry inventory tracking; a variant counts as sellable when it has
    # stock or sells when out of stock. Reconciliation (GraphQL availableForSale) corrects the rest.
    in_stock = not variants or any(
        int(v.get("inventory_quantity") or 0) > 0 or v.get("inventory_policy") == "continue" for v in variants
    )
    return ProductRecord(
        external_id=numeric_id(payload["id"]),
        title=str(payload.get("title") or "").strip() or f"Product {payload['id']}",
        price=min(prices) if prices else Decimal(0),
        handle=handle,
        url=f"https://{domain}/products/{handle}" if handle else "",
        image_url=str(image.get("src") or ""),
        category=str(payload.get("product_type") or ""),
        vendor=str(payload.get("vendor") or ""),
        tags=_tags(payload.get("tags")),
        description=plain_text(payload.get("body_html"))[:5000],
        status=PRODUCT_STATUSES.get(str(payload.get("status") or "active").lower(), ProductStatus.DRAFT),
        in_stock=in_stock,
        created_at=parse_time(payload.get("created_at")),
        updated_at=parse_time(payload.get("updated_at")),
    )


def _line_from_rest(item: dict) -> OrderLineRecord | None:
    if not isinstance(item, dict) or item.get("product_id") in (None, ""):
        return None  # custom items and gift cards have no product to recommend
    quantity = int(item.get("quantity") or 0)
    if quantity <= 0:
        return None
    return OrderLineRecord(
        product_external_id=numeric_id(item["product_id"]),
        quantity=quantity,
        unit_price=money(item.get("price")),
        variant_id=str(item.get("variant_id") or ""),
        source_block=attribution_block(item.get("properties"), key_field="name", value_field="value"),
    )


def order_from_rest(payload: dict) -> tuple[OrderRecord, dt.datetime | None, dict[str, str]]:
    """(record, the platform's updated_at, {product id: line title}) of an order webhook."""
    if not isinstance(payload, dict) or "id" not in payload or "created_at" not in payload:
        raise PayloadInvalid("order payload without an id or created_at")
    items = [item for item in payload.get("line_items") or [] if isinstance(item, dict)]
    lines = tuple(line for line in (_line_from_rest(item) for item in items) if line is not None)
    titles = {numeric_id(i["product_id"]): str(i.get("title") or "") for i in items if i.get("product_id")}
    customer = payload.get("customer") or {}
    record = OrderRecord(
        external_id=numeric_id(payload["id"]),
        created_at=parse_time(payload["created_at"]),
        lines=lines,
        customer_id=customer_id_from_gid(customer.get("id")) or None if isinstance(customer, dict) else None,
        status=_order_status(
            financial=str(payload.get("financial_status") or ""),
            cancelled=bool(payload.get("cancelled_at")),
            test=bool(payload.get("test")),
        ),
        currency=str(payload.get("currency") or "")[:3],
        total=money(payload.get("total_price")) if payload.get("total_price") not in (None, "") else None,
        experiment_mark=experiment_mark(payload.get("note_attributes"), key_field="name", value_field="value"),
    )
    return record, parse_time(payload.get("updated_at")), titles


# --- GraphQL (bulk JSONL and paginated queries) --------------------------------------------------


def product_from_graphql(node: dict, children: list[dict], *, domain: str) -> ProductRecord:
    """A product from its node and its children: variants, and the collections it is in, which
    become `collection:<handle>` tags (content similarity and rules read tags)."""
    variants = [child for child in children if "/ProductVariant/" in str(child.get("id", ""))]
    collections = [child for child in children if "/Collection/" in str(child.get("id", ""))]
    prices = [money(v.get("price")) for v in variants if v.get("price") not in (None, "")]
    image = ((node.get("featuredMedia") or {}).get("preview") or {}).get("image") or {}
    handle = str(node.get("handle") or "")
    if variants:
        in_stock = any(bool(v.get("availableForSale")) for v in variants)
    else:
        in_stock = not node.get("tracksInventory") or int(node.get("totalInventory") or 0) > 0
    return ProductRecord(
        external_id=numeric_id(node.get("legacyResourceId") or node.get("id")),
        title=str(node.get("title") or "").strip() or f"Product {node.get('id')}",
        price=min(prices) if prices else Decimal(0),
        handle=handle,
        url=str(node.get("onlineStoreUrl") or (f"https://{domain}/products/{handle}" if handle else "")),
        image_url=str(image.get("url") or ""),
        category=str(node.get("productType") or ""),
        vendor=str(node.get("vendor") or ""),
        tags=_tags(node.get("tags")) + tuple(f"collection:{c['handle']}" for c in collections if c.get("handle")),
        description=plain_text(node.get("description"))[:5000],
        status=PRODUCT_STATUSES.get(str(node.get("status") or "ACTIVE").lower(), ProductStatus.DRAFT),
        in_stock=in_stock,
        created_at=parse_time(node.get("createdAt")),
        updated_at=parse_time(node.get("updatedAt")),
    )


def _line_from_graphql(item: dict) -> OrderLineRecord | None:
    product = item.get("product") or {}
    if not product.get("id"):
        return None
    quantity = int(item.get("quantity") or 0)
    if quantity <= 0:
        return None
    amount = ((item.get("originalUnitPriceSet") or {}).get("shopMoney") or {}).get("amount")
    return OrderLineRecord(
        product_external_id=numeric_id(product["id"]),
        quantity=quantity,
        unit_price=money(amount),
        variant_id=numeric_id((item.get("variant") or {}).get("id")) if (item.get("variant") or {}).get("id") else "",
        source_block=attribution_block(item.get("customAttributes"), key_field="key", value_field="value"),
    )


def order_from_graphql(node: dict, line_items: list[dict]) -> tuple[OrderRecord, dt.datetime | None]:
    lines = tuple(line for line in (_line_from_graphql(item) for item in line_items) if line is not None)
    total = ((node.get("totalPriceSet") or {}).get("shopMoney") or {}).get("amount")
    record = OrderRecord(
        external_id=numeric_id(node.get("legacyResourceId") or node.get("id")),
        created_at=parse_time(node.get("createdAt")),
        lines=lines,
        customer_id=customer_id_from_gid((node.get("customer") or {}).get("id")) or None,
        status=_order_status(
            financial=str(node.get("displayFinancialStatus") or ""),
            cancelled=bool(node.get("cancelledAt")),
            test=bool(node.get("test")),
        ),
        currency=str(node.get("currencyCode") or "")[:3],
        total=money(total) if total not in (None, "") else None,
        experiment_mark=experiment_mark(node.get("customAttributes"), key_field="key", value_field="value"),
    )
    return record, parse_time(node.get("updatedAt"))
