"""Platform-neutral writes of synced records: what every platform's sync and webhooks share."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

from shops.models import Shop
from shops.records import OrderLineRecord, OrderRecord, ProductRecord, ProductStatus
from shops.services.catalog import product_bulk_upsert, product_ids_by_external_id
from shops.services.orders import order_bulk_upsert


def _placeholders(
    shop: Shop, records: list[OrderRecord], titles: dict[str, str], known_ids: dict[str, int] | None = None
) -> dict[str, int]:
    """{external id: pk} of the products the lines name. Those not synced yet (a webhook ahead of
    its product's) are stored as drafts with an old timestamp, so the real product replaces them
    and they are never shown. `known_ids` carries what earlier batches of one sync looked up."""
    wanted = {line.product_external_id for record in records for line in record.lines}
    known = {external_id: known_ids[external_id] for external_id in wanted if external_id in (known_ids or {})}
    if len(known) < len(wanted):
        known.update(product_ids_by_external_id(external_ids=wanted - set(known)))
    missing = wanted - set(known)
    if missing:
        epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
        prices = {line.product_external_id: line.unit_price for record in records for line in record.lines}
        # Insert-only: a real product stored meanwhile, even by a transaction still running
        # (the insert waits for it), is kept as it is.
        placed = product_bulk_upsert(
            shop=shop,
            records=[
                ProductRecord(
                    external_id=external_id,
                    title=titles.get(external_id) or f"Product {external_id}",
                    price=prices[external_id],
                    status=ProductStatus.DRAFT,
                    created_at=epoch,
                    updated_at=epoch,
                )
                for external_id in sorted(missing)
            ],
            overwrite_existing=False,
        )
        known.update(placed)
    if known_ids is not None:
        known_ids.update(known)
    return known


def products_write(*, shop: Shop, records: list[ProductRecord]) -> int:
    product_bulk_upsert(shop=shop, records=records, skip_stale=True)
    return len(records)


def orders_write(
    *,
    shop: Shop,
    records: list[OrderRecord],
    updated_at: dict[str, dt.datetime | None],
    titles: dict[str, str],
    known_ids: dict[str, int] | None = None,
) -> tuple[int, int]:
    """Returns (new orders, updated orders)."""
    if not records:
        return 0, 0
    product_ids = _placeholders(shop, records, titles, known_ids)
    result = order_bulk_upsert(shop=shop, records=records, product_ids=product_ids, updated_at=updated_at)
    return result.created, result.updated


# Webhook deliveries keep records as JSON (`WebhookDelivery.work`).


def record_to_work(record) -> dict:
    """A record as JSON for `WebhookDelivery.work`."""

    def convert(value):
        if isinstance(value, dt.datetime):
            return value.isoformat()
        if isinstance(value, (list, tuple)):
            return [convert(item) for item in value]
        if isinstance(value, dict):
            return {key: convert(item) for key, item in value.items()}
        if value.__class__.__name__ == "Decimal":
            return str(value)
        return value

    return convert(dataclasses.asdict(record))


def time_from_work(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


def product_from_work(data: dict) -> ProductRecord:
    return ProductRecord(
        **{
            **data,
            "price": Decimal(data["price"]),
            "tags": tuple(data["tags"]),
            "created_at": time_from_work(data["created_at"]),
            "updated_at": time_from_work(data["updated_at"]),
        }
    )


def order_from_work(data: dict) -> OrderRecord:
    return OrderRecord(
        **{
            **data,
            "created_at": time_from_work(data["created_at"]),
            "total": Decimal(data["total"]) if data["total"] is not None else None,
            "lines": tuple(
                OrderLineRecord(**{**line, "unit_price": Decimal(line["unit_price"])}) for line in data["lines"]
            ),
        }
    )
