"""Writes on orders: the baskets the models learn from."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import F
from django.utils import timezone

from shops.bulk import rows_insert, rows_upsert
from shops.errors import ValidationFailed
from shops.models import Order, OrderLine, Shop
from shops.records import OrderLineRecord, OrderRecord

_BATCH_SIZE = 2000


@dataclass(frozen=True)
class OrderImportResult:
    # {external_id: pk} of the orders this call inserted.
    created: dict[str, int]
    # External ids that were already stored; nothing was changed for them.
    already_present: tuple[str, ...]
    lines_created: int


def _customer_ref(shop: Shop, record: OrderRecord) -> str | None:
    if record.customer_ref:
        return record.customer_ref
    return shop.customer_ref(record.customer_id) if record.customer_id else None


def _line_total(lines: Sequence[OrderLineRecord]) -> Decimal:
    return sum((line.unit_price * line.quantity for line in lines), Decimal(0))


_ORDER_FIELDS = (
    "shop_id",
    "external_id",
    "created_at",
    "currency",
    "total",
    "status",
    "customer_ref",
    "updated_at",
    "synced_at",
    "experiment_arm",
)


def _order_row(shop: Shop, record: OrderRecord, updated_at: dt.datetime | None, now: dt.datetime) -> tuple:
    """An order's values in `_ORDER_FIELDS` order."""
    return (
        shop.pk,
        record.external_id,
        record.created_at,
        record.currency or shop.currency,
        record.total if record.total is not None else _line_total(record.lines),
        record.status,
        _customer_ref(shop, record),
        updated_at,
        now,
        record.experiment_mark,
    )


_LINE_FIELDS = ("shop_id", "order_id", "product_id", "variant_id", "quantity", "unit_price", "source_block")


def _line_rows(
    *, shop: Shop, order_id: int, lines: Sequence[OrderLineRecord], product_ids: Mapping[str, int]
) -> list[tuple]:
    rows = []
    for line in lines:
        product_id = product_ids.get(line.product_external_id)
        if product_id is None:
            raise ValidationFailed(f"Order line refers to unknown product {line.product_external_id!r}.")
        rows.append((shop.pk, order_id, product_id, line.variant_id, line.quantity, line.unit_price, line.source_block))
    return rows


def order_bulk_import(
    *,
    shop: Shop,
    records: Sequence[OrderRecord],
    product_ids: Mapping[str, int],
    updated_at: Mapping[str, dt.datetime | None] | None = None,
    known_absent: bool = False,
) -> OrderImportResult:
    """Insert the orders that are not stored yet, with their lines; never touches stored ones.

    `product_ids` maps every product external id the lines name to its pk. Customer ids are
    replaced by the shop's keyed hash here, before anything is written. Must run inside the
    shop's scope and, for all-or-nothing behaviour, inside the caller's transaction.
    """
    by_external_id = {record.external_id: record for record in records}
    if len(by_external_id) != len(records):
        raise ValidationFailed("The same order appears twice in one batch.")
    stored = (
        set()
        if known_absent
        else set(Order.objects.filter(external_id__in=list(by_external_id)).values_list("external_id", flat=True))
    )
    new_records = [record for record in records if record.external_id not in stored]
    # COPY, then read the new ids back by external id: cheaper than building a model per order.
    now = timezone.now()
    rows_insert(
        model=Order,
        fields=_ORDER_FIELDS,
        rows=[_order_row(shop, record, (updated_at or {}).get(record.external_id), now) for record in new_records],
    )
    created: dict[str, int] = {}
    new_ids = [record.external_id for record in new_records]
    for start in range(0, len(new_ids), _BATCH_SIZE):
        chunk = new_ids[start : start + _BATCH_SIZE]
        created.update(Order.objects.filter(external_id__in=chunk).values_list("external_id", "pk"))

    line_rows: list[tuple] = []
    for record in new_records:
        line_rows += _line_rows(
            shop=shop, order_id=created[record.external_id], lines=record.lines, product_ids=product_ids
        )
    rows_insert(model=OrderLine, fields=_LINE_FIELDS, rows=line_rows)
    return OrderImportResult(created=created, already_present=tuple(sorted(stored)), lines_created=len(line_rows))


def order_lines_append(
    *, shop: Shop, order_id: int, lines: Sequence[OrderLineRecord], product_ids: Mapping[str, int]
) -> None:
    """Add lines to a stored order and raise its total accordingly.

    For sources that list one order's lines in more than one place (a CSV export whose rows are
    not grouped by invoice).
    """
    rows_insert(
        model=OrderLine,
        fields=_LINE_FIELDS,
        rows=_line_rows(shop=shop, order_id=order_id, lines=lines, product_ids=product_ids),
    )
    Order.objects.filter(pk=order_id).update(total=F("total") + _line_total(lines))


@dataclass(frozen=True)
class OrderUpsertResult:
    created: int
    updated: int
    stale: int


# What a later platform change may alter on a stored order; when it was placed never changes.
_ORDER_UPDATE_FIELDS = ("total", "status", "customer_ref", "updated_at", "synced_at", "experiment_arm")


def order_bulk_upsert(
    *,
    shop: Shop,
    records: Sequence[OrderRecord],
    product_ids: Mapping[str, int],
    updated_at: Mapping[str, dt.datetime | None],
) -> OrderUpsertResult:
    """Insert new orders and bring stored ones up to date (status, total, lines) from a platform
    that edits orders after they are placed (payments, cancellations, refunds, edits).

    A record older than what is stored (by the platform's `updated_at`), or as old, changes
    nothing: webhooks arrive late and out of order. The comparison happens in the statement that
    writes the order row, which also locks it, so of concurrent writers of one order (Shopify
    sends orders/create, orders/paid and orders/updated at once) the newest wins whatever the
    commit order, and only the writer that changed the row replaces its lines. Must run inside
    the shop's scope and the caller's transaction.
    """
    # One statement cannot write a row twice; `updated_at` has one time per order, so the last
    # record of an order stands for it.
    records = list({record.external_id: record for record in records}.values())
    missing = sorted({line.product_external_id for record in records for line in record.lines} - set(product_ids))
    if missing:
        raise ValidationFailed(f"Order line refers to unknown product {missing[0]!r}.")
    now = timezone.now()
    written = rows_upsert(
        model=Order,
        fields=_ORDER_FIELDS,
        rows=[_order_row(shop, record, updated_at.get(record.external_id), now) for record in records],
        update_fields=_ORDER_UPDATE_FIELDS,
        if_newer="updated_at",
    )
    replaced = [pk for _, pk, inserted in written if not inserted]
    if replaced:
        OrderLine.objects.filter(order_id__in=replaced).delete()
    by_external_id = {record.external_id: record for record in records}
    line_rows: list[tuple] = []
    for external_id, pk, _ in written:
        line_rows += _line_rows(
            shop=shop, order_id=pk, lines=by_external_id[external_id].lines, product_ids=product_ids
        )
    rows_insert(model=OrderLine, fields=_LINE_FIELDS, rows=line_rows)
    created = sum(1 for *_, inserted in written if inserted)
    return OrderUpsertResult(created=created, updated=len(written) - created, stale=len(records) - len(written))
