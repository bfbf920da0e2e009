"""Writes on the catalogue."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from shops.bulk import rows_upsert
from shops.models import Product, Shop
from shops.records import ProductRecord

# Ids per lookup: small enough to stay under SQLite's bound-parameter limit.
_BATCH_SIZE = 500

_SYNCED_FIELDS = (
    "title",
    "handle",
    "url",
    "image_url",
    "price",
    "currency",
    "category",
    "vendor",
    "tags",
    "description",
    "status",
    "in_stock",
    "created_at",
    "updated_at",
    # When a sync last saw the product: a full sync marks deleted what it did not see.
    "synced_at",
)


_COLUMNS = ("shop_id", "external_id", *_SYNCED_FIELDS)


def _product_row(*, shop: Shop, record: ProductRecord, now: dt.datetime) -> tuple:
    created_at = record.created_at or now
    values = {
        "title": record.title[:512],
        "handle": record.handle,
        "url": record.url,
        "image_url": record.image_url,
        "price": record.price,
        "currency": shop.currency,
        "category": record.category,
        "vendor": record.vendor,
        "tags": list(record.tags),
        "description": record.description,
        "status": record.status,
        "in_stock": record.in_stock,
        "created_at": created_at,
        "updated_at": record.updated_at or created_at,
        "synced_at": now,
    }
    return (shop.pk, record.external_id, *(values[name] for name in _SYNCED_FIELDS))


def _newest_per_product(records: Iterable[ProductRecord]) -> list[ProductRecord]:
    """One record per product (one statement cannot write a row twice): the newest, else the last."""
    newest: dict[str, ProductRecord] = {}
    for record in records:
        seen = newest.get(record.external_id)
        if seen is None or not (seen.updated_at and record.updated_at and record.updated_at < seen.updated_at):
            newest[record.external_id] = record
    return list(newest.values())


def product_bulk_upsert(
    *, shop: Shop, records: Iterable[ProductRecord], overwrite_existing: bool = True, skip_stale: bool = False
) -> dict[str, int]:
    """Insert the products, or update the ones that exist; returns {external_id: pk} for all of them.

    With overwrite_existing=False, products that already exist are left as they are: importers
    that derive products from order lines use it so that a richer synced record is never
    replaced by a title taken from an order line. With skip_stale=True, a record older than the
    stored product (by the platform's `updated_at`) changes nothing: webhooks arrive late and out
    of order. The comparison happens in the database, in the statement that writes, so
    concurrent writers of one product end with the newest whatever order they commit in; a
    record as new as the stored one still applies (a sync re-reading an unchanged product marks
    it seen). Must run inside the shop's scope.
    """
    records = _newest_per_product(records)
    if not records:
        return {}
    now = timezone.now()
    update_fields = _SYNCED_FIELDS if overwrite_existing else ()
    # A record without the platform's change time cannot be compared: it applies as it is.
    conditional = [record for record in records if skip_stale and record.updated_at is not None]
    unconditional = [record for record in records if not (skip_stale and record.updated_at is not None)]
    written: list[tuple[str, int, bool]] = []
    for group, if_newer in ((conditional, "updated_at"), (unconditional, None)):
        if group:
            written += rows_upsert(
                model=Product,
                fields=_COLUMNS,
                rows=[_product_row(shop=shop, record=record, now=now) for record in group],
                update_fields=update_fields,
                if_newer=if_newer,
                ties_update=True,
            )
    if written:
        _products_changed(shop=shop, pks=[pk for _, pk, _ in written])
    ids = {external_id: pk for external_id, pk, _ in written}
    left_alone = [record.external_id for record in records if record.external_id not in ids]
    if left_alone:
        ids.update(product_ids_by_external_id(external_ids=left_alone))
    return ids


def product_bulk_delete(
    *, shop: Shop, external_ids: Iterable[str], deleted_at: dt.datetime | None = None, keep_timestamp: bool = False
) -> int:
    """Mark the products deleted on the platform; they leave the storefront when this commits.

    The rows stay (status "deleted") so that past baskets keep their products and a restore
    (WooCommerce's trash) brings a product back with its history. A product changed on the
    platform after `deleted_at` (a late delete delivery) is left alone. With keep_timestamp (a
    platform that says when a product changed but not when it was deleted) the product keeps its
    last change time, so any later change, a restore included, applies over the deletion.
    Returns how many changed. Must run inside the shop's scope.
    """
    products = Product.objects.filter(external_id__in=list(external_ids)).exclude(status=Product.Status.DELETED)
    if not keep_timestamp:
        deleted_at = deleted_at or timezone.now()
        products = products.filter(updated_at__lte=deleted_at)
    # The ids first, for the storefront; the update repeats the conditions, so a product changed
    # meanwhile is left alone (announcing it anyway only makes the storefront read it afresh).
    pks = list(products.values_list("pk", flat=True))
    changes = (
        {"status": Product.Status.DELETED}
        if keep_timestamp
        else {"status": Product.Status.DELETED, "updated_at": deleted_at}
    )
    changed = _update_in_batches(products, pks, changes)
    if changed:
        _products_changed(shop=shop, pks=pks)
    return changed


def products_unseen_delete(*, shop: Shop, since: dt.datetime) -> int:
    """After a full catalogue sync that started at `since`: products it did not write (not synced
    since, and not changed by a webhook since) no longer exist on the platform."""
    unseen = Product.objects.filter(synced_at__lt=since, updated_at__lt=since).exclude(status=Product.Status.DELETED)
    pks = list(unseen.values_list("pk", flat=True))
    changed = _update_in_batches(unseen, pks, {"status": Product.Status.DELETED, "updated_at": since})
    if changed:
        _products_changed(shop=shop, pks=pks)
    return changed


def _update_in_batches(products, pks: list[int], changes: dict) -> int:
    return sum(
        products.filter(pk__in=pks[start : start + _BATCH_SIZE]).update(**changes)
        for start in range(0, len(pks), _BATCH_SIZE)
    )


def _products_changed(*, shop: Shop, pks: list[int]) -> None:
    """A product that changed (unpublished, out of stock, new price) shows so on the storefront as
    soon as the change commits: its facts are replaced, every list stays as it is."""
    from recommendations.storefront.service import storefront_products_changed

    shop_id, domain = shop.pk, shop.domain
    transaction.on_commit(lambda: storefront_products_changed(shop_id=shop_id, domain=domain, pks=pks))


def product_ids_by_external_id(*, external_ids: Iterable[str]) -> dict[str, int]:
    """{external_id: pk} for those of the given products the shop in scope has."""
    wanted = list(dict.fromkeys(external_ids))
    found: dict[str, int] = {}
    for start in range(0, len(wanted), _BATCH_SIZE * 4):
        chunk = wanted[start : start + _BATCH_SIZE * 4]
        found.update(Product.objects.filter(external_id__in=chunk).values_list("external_id", "pk"))
    return found
