"""Import of order history from CSV files."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.db import transaction

from integrations.csv.online_retail import OnlineRetailReader, open_binary
from shops.models import Order, OrderLine, Product, Shop
from shops.records import OrderRecord
from shops.services.catalog import product_bulk_upsert, product_ids_by_external_id
from shops.services.maintenance import table_statistics_refresh
from shops.services.orders import order_bulk_import, order_lines_append
from shops.tenancy import current_shop_id

# Order lines per write batch: bounds memory while keeping INSERTs large.
_LINES_PER_BATCH = 5000

ProgressCallback = Callable[[int, int], None]


@dataclass
class ImportReport:
    lines_read: int = 0
    orders_created: int = 0
    lines_created: int = 0
    products_created: int = 0
    orders_already_present: int = 0
    skipped_lines: Counter[str] = field(default_factory=Counter)
    # Whether the import was large enough to queue a retraining (see training_after_sync).
    retraining_queued: bool = False


class _BatchWriter:
    """Writes batches of orders, deriving the products they name, and keeps the run's counts."""

    def __init__(self, *, shop: Shop, reader: OnlineRetailReader, report: ImportReport) -> None:
        self.shop = shop
        self.reader = reader
        self.report = report
        self.product_ids: dict[str, int] = {}
        # Orders inserted by this run, so that lines of the same invoice met later are appended
        # to it instead of being mistaken for an already imported order.
        self.created_in_run: dict[str, int] = {}

    def _ensure_products(self, orders: list[OrderRecord]) -> None:
        codes = {line.product_external_id for order in orders for line in order.lines}
        missing = codes - self.product_ids.keys()
        if not missing:
            return
        self.product_ids.update(product_ids_by_external_id(external_ids=missing))
        new_codes = missing - self.product_ids.keys()
        if new_codes:
            records = [self.reader.products[code] for code in sorted(new_codes)]
            self.product_ids.update(product_bulk_upsert(shop=self.shop, records=records, overwrite_existing=False))
            self.report.products_created += len(new_codes)

    def write(self, orders: dict[str, OrderRecord]) -> None:
        batch = list(orders.values())
        self._ensure_products(batch)
        continuing = [order for order in batch if order.external_id in self.created_in_run]
        fresh = [order for order in batch if order.external_id not in self.created_in_run]
        for order in continuing:
            order_lines_append(
                shop=self.shop,
                order_id=self.created_in_run[order.external_id],
                lines=order.lines,
                product_ids=self.product_ids,
            )
            self.report.lines_created += len(order.lines)
        result = order_bulk_import(shop=self.shop, records=fresh, product_ids=self.product_ids)
        self.created_in_run.update(result.created)
        self.report.orders_created += len(result.created)
        self.report.lines_created += result.lines_created
        self.report.orders_already_present += len(result.already_present)


def orders_import_online_retail(
    *,
    shop: Shop,
    path: Path,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    progress: ProgressCallback | None = None,
    retrain: bool = True,
) -> ImportReport:
    """Import a UCI Online Retail CSV (plain or gzip) into the shop: all or nothing, idempotent.

    The whole file is one transaction: a malformed line anywhere leaves the database as it was.
    Orders already stored are left untouched, so a second run imports nothing. Must run inside
    the shop's scope. With `retrain`, a large import queues a retraining once it commits.
    """
    if current_shop_id() != shop.pk:
        raise ValueError("orders_import_online_retail must run inside the scope of the shop it imports into.")
    report = ImportReport()
    known_orders = Order.objects.count()
    with open_binary(path) as raw:
        total_bytes = os.fstat(raw.fileno()).st_size
        reader = OnlineRetailReader(raw, name=str(path), timezone_name=shop.timezone, since=since, until=until)
        writer = _BatchWriter(shop=shop, reader=reader, report=report)
        with transaction.atomic():
            pending: dict[str, OrderRecord] = {}
            pending_lines = 0
            for order in reader:
                earlier = pending.get(order.external_id)
                pending[order.external_id] = (
                    dataclasses.replace(order, lines=earlier.lines + order.lines) if earlier else order
                )
                pending_lines += len(order.lines)
                if pending_lines >= _LINES_PER_BATCH:
                    writer.write(pending)
                    pending, pending_lines = {}, 0
                    if progress:
                        progress(raw.tell(), total_bytes)
            if pending:
                writer.write(pending)
            if progress:
                progress(total_bytes, total_bytes)
            if report.orders_created:
                transaction.on_commit(lambda: table_statistics_refresh(models_changed=[Product, Order, OrderLine]))
                _queue_data_profile_refresh(shop_id=shop.pk)
                if retrain:
                    report.retraining_queued = _queue_retraining(
                        shop=shop, new_orders=report.orders_created, known_orders=known_orders
                    )
    report.lines_read = reader.lines_read
    report.skipped_lines = reader.skipped
    return report


def _queue_data_profile_refresh(*, shop_id: int) -> None:
    from recommendations.tasks import data_profile_refresh as data_profile_refresh_task

    transaction.on_commit(lambda: data_profile_refresh_task.delay(shop_id))


def _queue_retraining(*, shop: Shop, new_orders: int, known_orders: int) -> bool:
    from recommendations.services.training import training_after_sync

    return training_after_sync(shop=shop, new_orders=new_orders, known_orders=known_orders) is not None
