"""Shopify sync: the initial import through Bulk Operations, and a reconciliation query on
`updated_at` that catches what webhooks missed.

A run keeps a checkpoint (`SyncRun.checkpoint`): which bulk operation it waits for, how many
parents of the result are already stored, or which page cursor comes next. Each batch is written
in one transaction together with its checkpoint, so a run killed at any point resumes from the
last stored batch, and upserts make a replayed batch harmless.

Bulk results are read ungrouped (the default since API 2026-01): a child line names its parent in
`__parentId` and may come anywhere in the file, before or after it. The downloaded file is first
indexed on disk (bulk_result.py), which also checks every line, so a malformed file fails the run
before anything is written; then parents are read in file order with their children joined.

Reconciliation pages are sized from their requested cost (cost.py) to stay within Shopify's
1,000-point limit and the store's bucket; a product with more variants or collections, or an order
with more lines, than one nested page holds is completed by follow-up queries. A MAX_COST_EXCEEDED
answer shrinks the pages and tries again; only when a single node no longer fits does the run fail.
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import tempfile
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from integrations.models import SyncRun
from integrations.parsing import PayloadInvalid
from integrations.runs import sync_run_finish
from integrations.shopify.bulk_result import BulkResultInvalid, indexed_bulk_result
from integrations.shopify.client import ShopifyApiError, ShopifyClient, ShopifyCostExceeded
from integrations.shopify.cost import MAX_QUERY_COST
from integrations.shopify.install import customer_access_record
from integrations.shopify.mapping import numeric_id, order_from_graphql, product_from_graphql
from integrations.shopify.queries import (
    BULK_RUN,
    BULK_STATUS,
    ORDER_LINES,
    PRODUCT_COLLECTIONS,
    PRODUCT_VARIANTS,
    PRODUCTS_PAGE,
    SHOP_INFO,
    CostTooHigh,
    customers_granted,
    follow_up_variables,
    orders_bulk_query,
    orders_page,
    orders_page_variables,
    products_bulk_query,
    products_page_variables,
)
from integrations.writes import orders_write, products_write
from shops.models import Shop
from shops.records import OrderRecord, ProductRecord
from shops.services.catalog import products_unseen_delete

logger = logging.getLogger("basketry.shopify")

# Parents (products or orders) written per transaction: large enough that commits and round trips
# are amortised, small enough that a resumed run repeats little.
BATCH = 2000
# Orders older than this need the optional read_all_orders scope.
DEFAULT_ORDER_DAYS = 60
# Follow-up pages of one node: 250 a page, so this bounds a node at 250,000 children.
MAX_FOLLOW_UPS = 1000


class SyncWaiting(Exception):
    """The run waits for a bulk operation; poll again later (or on bulk_operations/finish)."""


class SyncFailed(Exception):
    """The run cannot go on (a failed bulk operation, a malformed result)."""


def _orders_since(shop: Shop) -> dt.datetime | None:
    scopes = {scope.strip() for scope in (shop.credentials or {}).get("scope", "").split(",")}
    if "read_all_orders" in scopes:
        return None
    return timezone.now() - dt.timedelta(days=DEFAULT_ORDER_DAYS)


def shop_info_refresh(*, shop: Shop, client: ShopifyClient) -> None:
    """The store's name, currency and time zone, as Shopify has them, and the scopes the app holds
    now (a merchant may have approved or Shopify withdrawn one since the token was issued)."""
    data = client.graphql(SHOP_INFO)
    info = data.get("shop") or {}
    changes = {
        # Compliance and app webhooks name the shop by this id (integrations/shopify/binding.py).
        "platform_id": numeric_id(info["id"]) if info.get("id") else shop.platform_id,
        "name": str(info.get("name") or shop.name)[:255],
        "currency": str(info.get("currencyCode") or shop.currency)[:3],
        "timezone": str(info.get("ianaTimezone") or shop.timezone)[:64],
    }
    Shop.objects.filter(pk=shop.pk).update(**changes)
    for field, value in changes.items():
        setattr(shop, field, value)
    scopes = ((data.get("currentAppInstallation") or {}).get("accessScopes")) or []
    handles = [str(scope.get("handle")) for scope in scopes if isinstance(scope, dict) and scope.get("handle")]
    if handles:
        with transaction.atomic():
            locked = Shop.objects.select_for_update().get(pk=shop.pk)
            locked.credentials = {**locked.credentials, "scope": ",".join(handles)}
            locked.save(update_fields=["credentials", "updated_at"])
        shop.credentials = locked.credentials


def _customers_wanted(shop: Shop) -> bool:
    return customers_granted((shop.credentials or {}).get("scope"))


# --- bulk operations ---------------------------------------------------------------------------


def _relaxed_commit() -> None:
    """Bulk batches skip waiting for the WAL flush at commit. A crash can lose the last few
    batches, but each batch commits with its checkpoint, so the resumed run re-reads exactly
    those: nothing is lost and nothing doubles."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


@dataclass
class _Batch:
    products: list[ProductRecord]
    orders: list[OrderRecord]
    updated_at: dict[str, dt.datetime | None]
    end_parent: int


def _flush(run: SyncRun, shop: Shop, phase: str, batch: _Batch, known_ids: dict[str, int]) -> None:
    with transaction.atomic():
        _relaxed_commit()
        if phase == "products":
            run.products_synced += products_write(shop=shop, records=batch.products)
        else:
            created, updated = orders_write(
                shop=shop, records=batch.orders, updated_at=batch.updated_at, titles={}, known_ids=known_ids
            )
            run.orders_synced += created + updated
            run.checkpoint["new_orders"] = run.checkpoint.get("new_orders", 0) + created
        run.checkpoint["parents_done"] = batch.end_parent
        run.save(update_fields=["products_synced", "orders_synced", "checkpoint"])


def _parsed_batches(
    *, domain: str, phase: str, groups: Iterable[tuple[int, dict, list[dict]]], skip: int
) -> Iterator[_Batch]:
    """Records in batches of BATCH parents; pure parsing, no database."""
    batch = _Batch([], [], {}, skip)
    for position, parent, children in groups:
        try:
            if phase == "products":
                batch.products.append(product_from_graphql(parent, children, domain=domain))
            else:
                record, updated_at = order_from_graphql(parent, children)
                batch.orders.append(record)
                batch.updated_at[record.external_id] = updated_at
        except PayloadInvalid as error:
            raise SyncFailed(f"bulk result: {parent.get('id')}: {error}") from error
        batch.end_parent = position
        if len(batch.products) + len(batch.orders) >= BATCH:
            yield batch
            batch = _Batch([], [], {}, position)
    if batch.products or batch.orders:
        yield batch


_DONE = object()


def _read_ahead(batches: Iterator[_Batch], *, depth: int = 2) -> Iterator[_Batch]:
    """Parse the next batches in a thread while this one waits on PostgreSQL: parsing is Python
    work, writing mostly the database's, so on two cores they overlap. Batches still come out in
    file order, so checkpoints stay exact; a parse error is raised here, in order."""
    slots: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for batch in batches:
                while not stop.is_set():
                    try:
                        slots.put(batch, timeout=0.5)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            slots.put(_DONE)
        except BaseException as error:  # handed to the consumer, which raises it in order
            slots.put(error)

    worker = threading.Thread(target=produce, name="bulk-parse", daemon=True)
    worker.start()
    try:
        while True:
            item = slots.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join(timeout=5)


def _ingest(run: SyncRun, shop: Shop, phase: str, lines: Iterable[bytes], *, directory: str) -> None:
    skip = run.checkpoint.get("parents_done", 0)
    # Product ids looked up by earlier batches; products are not deleted while a sync ingests.
    known_ids: dict[str, int] = {}
    try:
        with indexed_bulk_result(lines, directory=directory) as result:
            groups = result.groups(after=skip)
            for batch in _read_ahead(_parsed_batches(domain=shop.domain, phase=phase, groups=groups, skip=skip)):
                _flush(run, shop, phase, batch, known_ids)
    except BulkResultInvalid as error:
        raise SyncFailed(f"Shopify's {phase} export is malformed ({error}); nothing of it was imported") from error


def _bulk_start(client: ShopifyClient, query: str) -> str:
    data = client.graphql(BULK_RUN, {"query": query})
    payload = data.get("bulkOperationRunQuery") or {}
    errors = payload.get("userErrors") or []
    if errors:
        codes = [str(e.get("code") or "") for e in errors]
        raise ShopifyApiError(
            "bulk operation refused: " + "; ".join(str(e.get("message")) for e in errors),
            retryable="OPERATION_IN_PROGRESS" in codes,
            code=next((code for code in codes if code), ""),
        )
    return payload["bulkOperation"]["id"]


def _customers_denied(run: SyncRun, shop: Shop) -> bool:
    """Shopify refused customer ids although the scope looked granted (no protected customer data
    approval, or the scope withdrawn): go on without them. False when they were not asked for."""
    if not run.checkpoint.get("customers"):
        return False
    run.checkpoint["customers"] = False
    run.checkpoint.pop("bulk_id", None)
    customer_access_record(shop=shop, denied=True)
    run.save(update_fields=["checkpoint"])
    logger.warning("sync.customers_denied shop=%s run=%s", shop.pk, run.pk)
    return True


def _full_step(run: SyncRun, shop: Shop, client: ShopifyClient) -> bool:
    """Advance a full sync; True when done, raises SyncWaiting while a bulk operation runs."""
    checkpoint = run.checkpoint
    phase = checkpoint.setdefault("phase", "products")
    if phase == "done":
        return True
    if not checkpoint.get("bulk_id"):
        if phase == "products":
            shop_info_refresh(shop=shop, client=client)
            checkpoint["since_start"] = timezone.now().isoformat()
            query = products_bulk_query()
        else:
            customers = checkpoint.setdefault("customers", _customers_wanted(shop))
            query = orders_bulk_query(since=_orders_since(shop), customers=customers)
        try:
            checkpoint["bulk_id"] = _bulk_start(client, query)
        except ShopifyApiError as error:
            if phase == "orders" and error.code == "ACCESS_DENIED" and _customers_denied(run, shop):
                return False
            raise
        checkpoint["parents_done"] = 0
        checkpoint.pop("lines_done", None)
        run.save(update_fields=["checkpoint"])
    operation = (client.graphql(BULK_STATUS, {"id": checkpoint["bulk_id"]}) or {}).get("bulkOperation") or {}
    status = operation.get("status")
    if status in ("CREATED", "RUNNING", "CANCELING"):
        raise SyncWaiting(checkpoint["bulk_id"])
    if status != "COMPLETED":
        error_code = operation.get("errorCode") or "no error code"
        if phase == "orders" and error_code == "ACCESS_DENIED" and _customers_denied(run, shop):
            return False
        # Failed, cancelled or expired: start that phase again on the next attempt.
        checkpoint.pop("bulk_id", None)
        run.save(update_fields=["checkpoint"])
        raise SyncFailed(f"Shopify's {phase} export ended {status or 'missing'} ({error_code})")
    if operation.get("url"):
        # Download first, then ingest from disk: a dropped connection costs a download, never a
        # half-read batch, and the database work does not hold Shopify's connection open.
        with tempfile.TemporaryDirectory(prefix="basketry-bulk-") as directory:
            with open(f"{directory}/result.jsonl", "w+b") as result:
                with client.download(operation["url"]) as response:
                    if response.status_code != 200:
                        raise ShopifyApiError(f"bulk result download: HTTP {response.status_code}", retryable=True)
                    for chunk in response.iter_bytes(1 << 20):
                        result.write(chunk)
                result.seek(0)
                _ingest(run, shop, phase, result, directory=directory)
    with transaction.atomic():
        if phase == "products":
            # Shopify's list is complete now: what it no longer has was deleted while a webhook
            # was lost.
            run.checkpoint["products_deleted"] = products_unseen_delete(
                shop=shop, since=dt.datetime.fromisoformat(checkpoint["since_start"])
            )
        elif checkpoint.get("customers"):
            customer_access_record(shop=shop, denied=False)
        checkpoint["phase"] = "orders" if phase == "products" else "done"
        checkpoint.pop("bulk_id", None)
        checkpoint["parents_done"] = 0
        run.save(update_fields=["checkpoint"])
    return checkpoint["phase"] == "done"


# --- reconciliation ----------------------------------------------------------------------------


def _rest_of(
    client: ShopifyClient, document: str, root: str, field: str, node_id: str, cursor: str | None, budget: int
) -> list[dict]:
    """The remaining nodes of one node's nested connection, page by page."""
    nodes: list[dict] = []
    for _ in range(MAX_FOLLOW_UPS):
        variables = follow_up_variables(document, node_id=node_id, cursor=cursor, budget=budget)
        data = client.graphql(document, variables)
        connection_ = ((data.get(root) or {}).get(field)) or {}
        nodes += connection_.get("nodes") or []
        info = connection_.get("pageInfo") or {}
        if not info.get("hasNextPage"):
            return nodes
        cursor = info.get("endCursor")
    raise SyncFailed(f"{node_id}: more than {MAX_FOLLOW_UPS} pages of {field}")


def _complete(client: ShopifyClient, node: dict, field: str, document: str, root: str, budget: int) -> list[dict]:
    connection_ = node.get(field) or {}
    nodes = list(connection_.get("nodes") or [])
    info = connection_.get("pageInfo") or {}
    if info.get("hasNextPage"):
        nodes += _rest_of(client, document, root, field, node["id"], info.get("endCursor"), budget)
    return nodes


def _products_page(client: ShopifyClient, shop: Shop, checkpoint: dict, search: str, budget: int):
    variables = products_page_variables(cursor=checkpoint.get("cursor"), search=search, budget=budget)
    page = client.graphql(PRODUCTS_PAGE, variables).get("products") or {}
    records = []
    for node in page.get("nodes") or []:
        variants = _complete(client, node, "variants", PRODUCT_VARIANTS, "product", budget)
        collections = _complete(client, node, "collections", PRODUCT_COLLECTIONS, "product", budget)
        records.append(product_from_graphql(node, [*variants, *collections], domain=shop.domain))
    return records, page.get("pageInfo") or {}


def _orders_page(client: ShopifyClient, checkpoint: dict, search: str, budget: int, customers: bool):
    variables = orders_page_variables(
        cursor=checkpoint.get("cursor"), search=search, budget=budget, customers=customers
    )
    page = client.graphql(orders_page(customers=customers), variables).get("orders") or {}
    parsed = [
        order_from_graphql(node, _complete(client, node, "lineItems", ORDER_LINES, "order", budget))
        for node in page.get("nodes") or []
    ]
    return parsed, page.get("pageInfo") or {}


def _smaller_budget(budget: int, error: ShopifyCostExceeded) -> int:
    """Shopify priced the query higher than this count did: scale the budget down by as much,
    and by a tenth at least, so that repeated refusals end in CostTooHigh rather than a loop."""
    ratio = error.max_cost / max(error.cost, 1)
    return int(budget * min(0.9, ratio))


def _reconcile_step(run: SyncRun, shop: Shop, client: ShopifyClient) -> bool:
    """One page of changes since the watermark; True when both products and orders are done."""
    checkpoint = run.checkpoint
    phase = checkpoint.setdefault("phase", "products")
    if phase == "done":
        return True
    if not checkpoint.get("shop_checked"):
        shop_info_refresh(shop=shop, client=client)
        checkpoint["shop_checked"] = True
        run.save(update_fields=["checkpoint"])
    since = dt.datetime.fromisoformat(checkpoint["since"])
    search = f"updated_at:>'{since.strftime('%Y-%m-%dT%H:%M:%SZ')}'"
    budget = min(client.budget, checkpoint.get("cost_budget", MAX_QUERY_COST))
    customers = phase == "orders" and checkpoint.setdefault("customers", _customers_wanted(shop))
    try:
        if phase == "products":
            records, info = _products_page(client, shop, checkpoint, search, budget)
        else:
            parsed, info = _orders_page(client, checkpoint, search, budget, customers)
    except ShopifyCostExceeded as error:
        # Never final while the pages can shrink: sized() raises CostTooHigh once they cannot.
        checkpoint["cost_budget"] = _smaller_budget(budget, error)
        run.save(update_fields=["checkpoint"])
        logger.warning("sync.cost_exceeded shop=%s cost=%s budget=%s", shop.pk, error.cost, checkpoint["cost_budget"])
        return False
    except CostTooHigh as error:
        raise SyncFailed(f"Shopify refuses even the smallest page of {phase}: {error}") from error
    except ShopifyApiError as error:
        if error.code == "ACCESS_DENIED" and customers and _customers_denied(run, shop):
            return False
        raise
    with transaction.atomic():
        if phase == "products":
            run.products_synced += products_write(shop=shop, records=records)
        else:
            created, updated = orders_write(
                shop=shop,
                records=[record for record, _ in parsed],
                updated_at={record.external_id: stamp for record, stamp in parsed},
                titles={},
            )
            run.orders_synced += created + updated
            checkpoint["new_orders"] = checkpoint.get("new_orders", 0) + created
            if customers:
                customer_access_record(shop=shop, denied=False)
        if info.get("hasNextPage"):
            checkpoint["cursor"] = info.get("endCursor")
        else:
            checkpoint["phase"] = "orders" if phase == "products" else "done"
            checkpoint.pop("cursor", None)
        run.save(update_fields=["products_synced", "orders_synced", "checkpoint"])
    return checkpoint["phase"] == "done"


# --- runs ------------------------------------------------------------------------------------


def sync_run_advance(*, run: SyncRun, client: ShopifyClient) -> bool:
    """Work on the run until it is done (True) or waits for Shopify (raises SyncWaiting).

    ShopifyApiError and SyncFailed leave the checkpoint in place for a retry; the caller decides
    whether to retry or to mark the run failed.
    """
    shop = Shop.objects.get(pk=run.shop_id)
    step = _full_step if run.kind == SyncRun.Kind.FULL else _reconcile_step
    try:
        while not step(run, shop, client):
            pass
    finally:
        run.requests_made += client.stats.requests
        run.throttled += client.stats.throttled
        client.stats.requests = client.stats.throttled = 0
        run.save(update_fields=["requests_made", "throttled"])
    sync_run_finish(run=run, shop=shop)
    return True
