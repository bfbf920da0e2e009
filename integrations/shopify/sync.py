"""Shopify sync: the initial import through Bulk Operations, and a reconciliation query on
`updated_at` that catches what webhooks missed.

A run keeps a checkpoint (`SyncRun.checkpoint`): which bulk operation it waits for, how many
result lines are already stored, or which page cursor comes next. Each batch is written in one
transaction together with its checkpoint, so a run killed at any point resumes from the last
stored batch, and upserts make a replayed batch harmless.
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import tempfile
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import orjson
from django.db import connection, transaction
from django.utils import timezone

from integrations.models import SyncRun
from integrations.parsing import PayloadInvalid
from integrations.runs import sync_run_finish
from integrations.shopify.client import ShopifyApiError, ShopifyClient
from integrations.shopify.mapping import numeric_id, order_from_graphql, product_from_graphql
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
PAGE_SIZE = 100

_PRODUCT_FIELDS = """id legacyResourceId title handle status vendor productType tags description
      createdAt updatedAt onlineStoreUrl totalInventory tracksInventory
      featuredMedia { preview { image { url } } }"""
_VARIANT_FIELDS = "id price availableForSale"
_COLLECTION_FIELDS = "id handle title"
_ORDER_FIELDS = """id legacyResourceId createdAt updatedAt cancelledAt test displayFinancialStatus currencyCode
      customer { id } totalPriceSet { shopMoney { amount } } customAttributes { key value }"""
_LINE_FIELDS = """id quantity product { id } variant { id } originalUnitPriceSet { shopMoney { amount } }
      customAttributes { key value }"""

BULK_RUN = """mutation BulkRun($query: String!) {
  bulkOperationRunQuery(query: $query) { bulkOperation { id status } userErrors { field message code } }
}"""
BULK_STATUS = """query BulkStatus($id: ID!) {
  bulkOperation(id: $id) { id status errorCode objectCount rootObjectCount url partialDataUrl }
}"""


def products_bulk_query() -> str:
    return (
        "{ products { edges { node { " + _PRODUCT_FIELDS + " variants { edges { node { " + _VARIANT_FIELDS + " } } }"
        " collections { edges { node { " + _COLLECTION_FIELDS + " } } } } } } }"
    )


def orders_bulk_query(*, since: dt.datetime | None) -> str:
    search = f"(query: \"created_at:>='{since.strftime('%Y-%m-%dT%H:%M:%SZ')}'\")" if since else ""
    return (
        "{ orders"
        + search
        + " { edges { node { "
        + _ORDER_FIELDS
        + " lineItems { edges { node { "
        + _LINE_FIELDS
        + " } } } } } } }"
    )


PRODUCTS_PAGE = (
    "query Products($first: Int!, $cursor: String, $query: String) {"
    " products(first: $first, after: $cursor, query: $query, sortKey: UPDATED_AT) {"
    " pageInfo { hasNextPage endCursor } nodes { "
    + _PRODUCT_FIELDS
    + " variants(first: 100) { nodes { "
    + _VARIANT_FIELDS
    + " } } } } }"
)
ORDERS_PAGE = (
    "query Orders($first: Int!, $cursor: String, $query: String) {"
    " orders(first: $first, after: $cursor, query: $query, sortKey: UPDATED_AT) {"
    " pageInfo { hasNextPage endCursor } nodes { "
    + _ORDER_FIELDS
    + " lineItems(first: 250) { nodes { "
    + _LINE_FIELDS
    + " } } } } }"
)


class SyncWaiting(Exception):
    """The run waits for a bulk operation; poll again later (or on bulk_operations/finish)."""


class SyncFailed(Exception):
    """The run cannot go on (a failed bulk operation, a malformed result)."""


def _orders_since(shop: Shop) -> dt.datetime | None:
    scopes = {scope.strip() for scope in (shop.credentials or {}).get("scope", "").split(",")}
    if "read_all_orders" in scopes:
        return None
    return timezone.now() - dt.timedelta(days=DEFAULT_ORDER_DAYS)


SHOP_INFO = "query ShopInfo { shop { id name currencyCode ianaTimezone } }"


def shop_info_refresh(*, shop: Shop, client: ShopifyClient) -> None:
    """The store's name, currency and time zone, as Shopify has them."""
    info = client.graphql(SHOP_INFO).get("shop") or {}
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


# --- bulk operations -------------------------------------------------------------------------


def _jsonl_groups(lines: Iterable[bytes], *, skip: int) -> Iterator[tuple[int, dict, list[dict]]]:
    """(line number after the group, parent, children) for each parent in a bulk result.

    Shopify writes each parent before its children; a child whose parent is not the current one
    means the file is not what this reader expects, and the run fails rather than drop rows.
    """
    parent: dict | None = None
    children: list[dict] = []
    number = 0
    for number, raw in enumerate(lines, start=1):
        if number <= skip or not raw.strip():
            continue
        try:
            row = orjson.loads(raw)
        except orjson.JSONDecodeError as error:
            raise SyncFailed(f"bulk result line {number} is not JSON") from error
        parent_id = row.get("__parentId")
        if parent_id is None:
            if parent is not None:
                yield number - 1, parent, children
            parent, children = row, []
        elif parent is not None and parent_id == parent.get("id"):
            children.append(row)
        else:
            raise SyncFailed(f"bulk result line {number}: child of {parent_id} away from its parent")
    if parent is not None:
        yield number, parent, children


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
    end_line: int


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
        run.checkpoint["lines_done"] = batch.end_line
        run.save(update_fields=["products_synced", "orders_synced", "checkpoint"])


def _parsed_batches(*, domain: str, phase: str, lines: Iterable[bytes], skip: int) -> Iterator[_Batch]:
    """Records in batches of BATCH parents; pure parsing, no database."""
    batch = _Batch([], [], {}, skip)
    for end_line, parent, children in _jsonl_groups(lines, skip=skip):
        try:
            if phase == "products":
                batch.products.append(product_from_graphql(parent, children, domain=domain))
            else:
                record, updated_at = order_from_graphql(parent, children)
                batch.orders.append(record)
                batch.updated_at[record.external_id] = updated_at
        except PayloadInvalid as error:
            raise SyncFailed(f"bulk result line {end_line}: {error}") from error
        batch.end_line = end_line
        if len(batch.products) + len(batch.orders) >= BATCH:
            yield batch
            batch = _Batch([], [], {}, end_line)
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


def _ingest(run: SyncRun, shop: Shop, phase: str, lines: Iterable[bytes]) -> None:
    skip = run.checkpoint.get("lines_done", 0)
    # Product ids looked up by earlier batches; products are not deleted while a sync ingests.
    known_ids: dict[str, int] = {}
    for batch in _read_ahead(_parsed_batches(domain=shop.domain, phase=phase, lines=lines, skip=skip)):
        _flush(run, shop, phase, batch, known_ids)


def _bulk_start(client: ShopifyClient, query: str) -> str:
    data = client.graphql(BULK_RUN, {"query": query})
    payload = data.get("bulkOperationRunQuery") or {}
    errors = payload.get("userErrors") or []
    if errors:
        raise ShopifyApiError(
            "bulk operation refused: " + "; ".join(str(e.get("message")) for e in errors),
            retryable=any(e.get("code") == "OPERATION_IN_PROGRESS" for e in errors),
        )
    return payload["bulkOperation"]["id"]


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
            since = _orders_since(shop)
            query = orders_bulk_query(since=since)
        checkpoint["bulk_id"] = _bulk_start(client, query)
        checkpoint["lines_done"] = 0
        run.save(update_fields=["checkpoint"])
    operation = (client.graphql(BULK_STATUS, {"id": checkpoint["bulk_id"]}) or {}).get("bulkOperation") or {}
    status = operation.get("status")
    if status in ("CREATED", "RUNNING", "CANCELING"):
        raise SyncWaiting(checkpoint["bulk_id"])
    if status != "COMPLETED":
        # Failed, cancelled or expired: start that phase again on the next attempt.
        checkpoint.pop("bulk_id", None)
        run.save(update_fields=["checkpoint"])
        raise SyncFailed(f"bulk operation {status or 'missing'} ({operation.get('errorCode') or 'no error code'})")
    if operation.get("url"):
        # Download first, then ingest from disk: a dropped connection costs a download, never a
        # half-read batch, and the database work does not hold Shopify's connection open.
        with tempfile.TemporaryFile() as result:
            with client.download(operation["url"]) as response:
                if response.status_code != 200:
                    raise ShopifyApiError(f"bulk result download: HTTP {response.status_code}", retryable=True)
                for chunk in response.iter_bytes(1 << 20):
                    result.write(chunk)
            result.seek(0)
            _ingest(run, shop, phase, result)
    with transaction.atomic():
        if phase == "products":
            # Shopify's list is complete now: what it no longer has was deleted while a webhook
            # was lost.
            run.checkpoint["products_deleted"] = products_unseen_delete(
                shop=shop, since=dt.datetime.fromisoformat(checkpoint["since_start"])
            )
        checkpoint["phase"] = "orders" if phase == "products" else "done"
        checkpoint.pop("bulk_id", None)
        checkpoint["lines_done"] = 0
        run.save(update_fields=["checkpoint"])
    return checkpoint["phase"] == "done"


# --- reconciliation ----------------------------------------------------------------------------


def _reconcile_step(run: SyncRun, shop: Shop, client: ShopifyClient) -> bool:
    """One page of changes since the watermark; True when both products and orders are done."""
    checkpoint = run.checkpoint
    phase = checkpoint.setdefault("phase", "products")
    if phase == "done":
        return True
    since = dt.datetime.fromisoformat(checkpoint["since"])
    search = f"updated_at:>'{since.strftime('%Y-%m-%dT%H:%M:%SZ')}'"
    query, key = (PRODUCTS_PAGE, "products") if phase == "products" else (ORDERS_PAGE, "orders")
    data = client.graphql(query, {"first": PAGE_SIZE, "cursor": checkpoint.get("cursor"), "query": search})
    page = data.get(key) or {}
    nodes = page.get("nodes") or []
    with transaction.atomic():
        if phase == "products":
            records = [
                product_from_graphql(
                    node,
                    [
                        *((node.get("variants") or {}).get("nodes") or []),
                        *((node.get("collections") or {}).get("nodes") or []),
                    ],
                    domain=shop.domain,
                )
                for node in nodes
            ]
            run.products_synced += products_write(shop=shop, records=records)
        else:
            parsed = [order_from_graphql(node, (node.get("lineItems") or {}).get("nodes") or []) for node in nodes]
            created, updated = orders_write(
                shop=shop,
                records=[record for record, _ in parsed],
                updated_at={record.external_id: stamp for record, stamp in parsed},
                titles={},
            )
            run.orders_synced += created + updated
            checkpoint["new_orders"] = checkpoint.get("new_orders", 0) + created
        info = page.get("pageInfo") or {}
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
