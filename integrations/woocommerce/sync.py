"""WooCommerce sync: pages of 100 through the REST API, with a checkpoint after every page.

Every run first reads the store's currency (WooCommerce > Settings > General): a store that
changed it shows the new one in the widget and dashboard from this run on. A full sync reads every
product (variable products with their variations) and every order in id order; a reconciliation
asks only for what changed since the last sync (`modified_after` with `dates_are_gmt`, minus an
overlap), or, on stores too old to filter by modification date, reads everything again and lets
the stale-delivery checks skip what did not change. Each page commits with the run's checkpoint
(phase and next page), so a killed sync resumes at the page it was on.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.db import transaction
from django.utils import timezone

from integrations.models import SyncRun
from integrations.parsing import PayloadInvalid
from integrations.runs import sync_run_finish
from integrations.woocommerce.client import WooCommerceClient
from integrations.woocommerce.connect import shop_currency_refresh
from integrations.woocommerce.mapping import order_from_woo, product_from_woo, woo_id
from integrations.writes import orders_write, products_write
from shops.models import Shop
from shops.services.catalog import products_unseen_delete

logger = logging.getLogger("basketry.integrations")

PRODUCT_FIELDS = (
    "id,name,slug,permalink,type,status,catalog_visibility,price,stock_status,categories,tags,images,"
    "short_description,date_created_gmt,date_modified_gmt"
)
VARIATION_FIELDS = "id,price,stock_status"
ORDER_FIELDS = "id,status,currency,customer_id,total,date_created_gmt,date_modified_gmt,line_items,meta_data"


# Examples of rejected items kept on the run for the merchant and operator.
REJECTED_EXAMPLES = 20


def _reject(run: SyncRun, reason: str) -> None:
    """One item the store sent that Basketry cannot use: skipped, counted and named on the run,
    so that it neither stops this sync nor every later one."""
    rejected = run.checkpoint.setdefault("rejected", {"count": 0, "examples": []})
    rejected["count"] += 1
    if len(rejected["examples"]) < REJECTED_EXAMPLES:
        rejected["examples"].append(reason[:300])
    logger.warning("woocommerce.item_rejected run=%s %s", run.pk, reason)


def _variations(client: WooCommerceClient, product_id: int) -> list[dict]:
    found: list[dict] = []
    for _, _, items in client.pages(f"products/{product_id}/variations", _fields=VARIATION_FIELDS):
        found += items
    return found


def _filters(run: SyncRun, path: str, client: WooCommerceClient) -> dict[str, str]:
    params = {"orderby": "id", "order": "asc", "status": "any"}
    since = run.checkpoint.get("since")
    if run.kind == SyncRun.Kind.RECONCILE and since:
        key = f"modified_after_{path}"
        if key not in run.checkpoint:
            run.checkpoint[key] = client.supports_modified_after(path)
        if run.checkpoint[key]:
            params["modified_after"] = dt.datetime.fromisoformat(since).strftime("%Y-%m-%dT%H:%M:%S")
            params["dates_are_gmt"] = "true"
    return params


def _products_page(run: SyncRun, shop: Shop, client: WooCommerceClient, items: list[dict]) -> None:
    records = []
    for product in items:
        if not isinstance(product, dict):
            _reject(run, f"a product that is not an object: {str(product)[:80]!r}")
            continue
        try:
            variable = product.get("type") == "variable"
            variations = _variations(client, woo_id(product.get("id"))) if variable else None
            records.append(product_from_woo(product, variations))
        except PayloadInvalid as error:
            _reject(run, f"product {product.get('id')}: {error}")
    run.products_synced += products_write(shop=shop, records=records)


def _orders_page(run: SyncRun, shop: Shop, items: list[dict], known_ids: dict[str, int]) -> None:
    records, stamps, titles = [], {}, {}
    for order in items:
        if not isinstance(order, dict):
            _reject(run, f"an order that is not an object: {str(order)[:80]!r}")
            continue
        try:
            record, modified, names = order_from_woo(order)
        except PayloadInvalid as error:
            _reject(run, f"order {order.get('id')}: {error}")
            continue
        if record is None:
            continue
        records.append(record)
        stamps[record.external_id] = modified
        titles.update(names)
    created, updated = orders_write(shop=shop, records=records, updated_at=stamps, titles=titles, known_ids=known_ids)
    run.orders_synced += created + updated
    run.checkpoint["new_orders"] = run.checkpoint.get("new_orders", 0) + created


def woocommerce_sync_advance(*, run: SyncRun, shop: Shop, client: WooCommerceClient) -> None:
    """Work the run to its end from its checkpoint; WooCommerceError leaves the checkpoint for a
    retry. Items the mapping rejects are skipped and named in the checkpoint's `rejected`."""
    checkpoint = run.checkpoint
    checkpoint.setdefault("since_start", timezone.now().isoformat())
    known_ids: dict[str, int] = {}
    try:
        if "currency" not in checkpoint:
            # Before any page is written: products take the shop's currency, and a failing read
            # stops the run with nothing half-done. A resumed run has read it already.
            checkpoint["currency"] = shop_currency_refresh(shop=shop, client=client)
            run.save(update_fields=["checkpoint"])
        for phase, path in (("products", "products"), ("orders", "orders")):
            if _done(checkpoint, phase):
                continue
            params = _filters(run, path, client)
            if phase == "products":
                params["_fields"] = PRODUCT_FIELDS
            else:
                params["_fields"] = ORDER_FIELDS
            for page, _, items in client.pages(path, start_page=checkpoint.get("page", 1), **params):
                with transaction.atomic():
                    if phase == "products":
                        _products_page(run, shop, client, items)
                    else:
                        _orders_page(run, shop, items, known_ids)
                    checkpoint["page"] = page + 1
                    run.save(update_fields=["products_synced", "orders_synced", "checkpoint"])
            with transaction.atomic():
                if phase == "products" and run.kind == SyncRun.Kind.FULL:
                    # Every product the store has was just written: the rest were deleted there.
                    checkpoint["products_deleted"] = products_unseen_delete(
                        shop=shop, since=dt.datetime.fromisoformat(checkpoint["since_start"])
                    )
                checkpoint["phase"] = "orders" if phase == "products" else "done"
                checkpoint["page"] = 1
                run.save(update_fields=["checkpoint"])
    finally:
        run.requests_made += client.stats.requests
        client.stats.requests = 0
        run.save(update_fields=["requests_made"])
    sync_run_finish(run=run, shop=shop)


def _done(checkpoint: dict, phase: str) -> bool:
    """Whether the run is already past `phase` (resumed after it was finished)."""
    order = ("products", "orders", "done")
    return order.index(checkpoint.setdefault("phase", "products")) > order.index(phase)
