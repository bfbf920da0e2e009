"""Writes on the catalogue."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from shops.models import Product, Shop
from shops.records import ProductRecord

# Rows per INSERT: large enough to amortise round trips, small enough to stay under SQLite's
# bound-parameter limit with every product column.
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


def _product_from_record(*, shop: Shop, record: ProductRecord) -> Product:
    product = Product(
        shop=shop,
        external_id=record.external_id,
        title=record.title[:512],
        handle=record.handle,
        url=record.url,
        image_url=record.image_url,
        price=record.price,
        currency=shop.currency,
        category=record.category,
        vendor=record.vendor,
        tags=list(record.tags),
        description=record.description,
        status=record.status,
        in_stock=record.in_stock,
    )
    if record.created_at is not None:
        product.created_at = record.created_at
    product.updated_at = record.updated_at or product.created_at
    return product


def product_bulk_upsert(
    *, shop: Shop, records: Iterable[ProductRecord], overwrite_existing: bool = True, skip_stale: bool = False
) -> dict[str, int]:
    """Insert the products, or update the ones that exist; returns {external_id: pk} for all of them.

    With overwrite_existing=False, products that already exist are left as they are: importers
    that derive products from order lines use it so that a richer synced record is never
    replaced by a title taken from an order line. With skip_stale=True, a record older than the
    stored product (by the platform's `updated_at`) changes nothing: webhooks arrive late and out
    of order. Must run inside the shop's scope.
    """
    records = list(records)
    if skip_stale:
        records = _newer_than_stored(records)
    products = [_product_from_record(shop=shop, record=record) for record in records]
    if not products:
        return {}
    if overwrite_existing:
        Product.objects.bulk_create(
            products,
            batch_size=_BATCH_SIZE,
            update_conflicts=True,
            unique_fields=["shop", "external_id"],
            update_fields=list(_SYNCED_FIELDS),
        )
    else:
        Product.objects.bulk_create(products, batch_size=_BATCH_SIZE, ignore_conflicts=True)
    _storefront_invalidate(shop=shop)
    external_ids = [product.external_id for product in products]
    return product_ids_by_external_id(external_ids=external_ids)


def _newer_than_stored(records: list[ProductRecord]) -> list[ProductRecord]:
    stored = dict(
        Product.objects.filter(external_id__in=[record.external_id for record in records]).values_list(
            "external_id", "updated_at"
        )
    )
    return [
        record
        for record in records
        if record.updated_at is None or record.updated_at >= stored.get(record.external_id, record.updated_at)
    ]


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
    if keep_timestamp:
        changed = products.update(status=Product.Status.DELETED)
    else:
        deleted_at = deleted_at or timezone.now()
        changed = products.filter(updated_at__lte=deleted_at).update(
            status=Product.Status.DELETED, updated_at=deleted_at
        )
    if changed:
        _storefront_invalidate(shop=shop)
    return changed


def products_unseen_delete(*, shop: Shop, since: dt.datetime) -> int:
    """After a full catalogue sync that started at `since`: products it did not write (not synced
    since, and not changed by a webhook since) no longer exist on the platform."""
    changed = (
        Product.objects.filter(synced_at__lt=since, updated_at__lt=since)
        .exclude(status=Product.Status.DELETED)
        .update(status=Product.Status.DELETED, updated_at=since)
    )
    if changed:
        _storefront_invalidate(shop=shop)
    return changed


def _storefront_invalidate(*, shop: Shop) -> None:
    """A product that changed (unpublished, out of stock, new price) leaves the storefront's
    cached lists as soon as the change commits."""
    from recommendations.storefront.cache import storefront_invalidate

    domain = shop.domain
    transaction.on_commit(lambda: storefront_invalidate(domain=domain))


def product_ids_by_external_id(*, external_ids: Iterable[str]) -> dict[str, int]:
    """{external_id: pk} for those of the given products the shop in scope has."""
    wanted = list(dict.fromkeys(external_ids))
    found: dict[str, int] = {}
    for start in range(0, len(wanted), _BATCH_SIZE * 4):
        chunk = wanted[start : start + _BATCH_SIZE * 4]
        found.update(Product.objects.filter(external_id__in=chunk).values_list("external_id", "pk"))
    return found
