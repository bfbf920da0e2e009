"""Services behind the integrations' tasks and commands: run a sync, fulfil privacy requests."""

from __future__ import annotations

import logging
import time
import uuid

from django.core.cache import cache
from django.utils import timezone

from integrations.models import SyncRun
from shops.errors import ValidationFailed
from shops.models import Shop

logger = logging.getLogger("basketry.integrations")

# Longer than a sync task's hard time limit, so a killed worker's lock always expires.
SYNC_LOCK_SECONDS = 17 * 60


class SyncBusy(Exception):
    """Another worker is syncing this shop; it carries the run on."""


def sync_errors() -> tuple[type[Exception], ...]:
    """What a sync can stop on, for every platform: the run keeps its checkpoint. Those with
    `retryable` set (network, 5xx, 429, throttling) are worth trying again later."""
    from integrations.shopify.client import ShopifyApiError
    from integrations.shopify.install import ShopifyAuthError, ShopifyReauthRequired
    from integrations.shopify.sync import SyncFailed
    from integrations.woocommerce.client import WooCommerceError

    return (ShopifyApiError, SyncFailed, ShopifyReauthRequired, ShopifyAuthError, WooCommerceError)


def sync_execute(
    *, shop: Shop, kind: str, wait: bool = False, poll_seconds: float = 2.0, timeout_seconds: float = 3600
) -> SyncRun:
    """Start or resume the shop's sync of that kind and advance it; one worker per shop at a time
    (raises SyncBusy when another holds the shop's sync lock).

    With wait=False (tasks) it returns while a bulk operation runs, leaving the run to be polled
    (or woken by bulk_operations/finish); with wait=True (the `sync` command) it polls until done.
    Errors other than waiting leave the checkpoint for a retry and are re-raised.
    """
    token = uuid.uuid4().hex
    lock = f"shop:{shop.pk}:sync-lock"
    if not cache.add(lock, token, timeout=SYNC_LOCK_SECONDS):
        raise SyncBusy(f"another sync of {shop.domain} is running")
    try:
        return _advance(shop=shop, kind=kind, wait=wait, poll_seconds=poll_seconds, timeout_seconds=timeout_seconds)
    finally:
        if cache.get(lock) == token:
            cache.delete(lock)


def _advance(*, shop: Shop, kind: str, wait: bool, poll_seconds: float, timeout_seconds: float) -> SyncRun:
    from integrations.runs import sync_run_fail, sync_run_start
    from integrations.woocommerce.connect import client_for
    from integrations.woocommerce.sync import woocommerce_sync_advance

    if shop.platform not in (Shop.Platform.SHOPIFY, Shop.Platform.WOOCOMMERCE):
        raise ValidationFailed(f"{shop.domain} imports files ({shop.platform}); there is nothing to sync.")
    # Built before the run starts: a shop without keys fails here and leaves no run behind.
    woo_client = client_for(shop) if shop.platform == Shop.Platform.WOOCOMMERCE else None
    run = sync_run_start(shop=shop, kind=kind)
    try:
        if woo_client is None:
            return _shopify_advance(
                shop=shop, run=run, wait=wait, poll_seconds=poll_seconds, timeout_seconds=timeout_seconds
            )
        with woo_client:
            woocommerce_sync_advance(run=run, shop=shop, client=woo_client)
        return run
    except sync_errors() as error:
        # The run keeps its checkpoint; the error is what the merchant and operator see until a
        # retry gets past it.
        SyncRun.objects.filter(pk=run.pk).update(error=f"{type(error).__name__}: {error}"[:2000])
        raise
    except Exception as error:
        # Not a platform's answer but a fault here: never leave the run "running" with no reason.
        sync_run_fail(run=run, reason=f"internal error: {type(error).__name__}: {error}")
        logger.exception("sync.crashed shop=%s run=%s", shop.pk, run.pk)
        raise


def _shopify_advance(*, shop: Shop, run: SyncRun, wait: bool, poll_seconds: float, timeout_seconds: float) -> SyncRun:
    from integrations.shopify.client import ShopifyClient
    from integrations.shopify.sync import SyncWaiting, sync_run_advance

    deadline = time.monotonic() + timeout_seconds
    with ShopifyClient(shop=shop) as client:
        while True:
            try:
                sync_run_advance(run=run, client=client)
                return run
            except SyncWaiting:
                if not wait:
                    return run
                if time.monotonic() > deadline:
                    raise
                time.sleep(poll_seconds)


def privacy_data_request_fulfil(*, shop: Shop, customer_ref: str, platform_request_id: str = ""):
    """Assemble what is held under the customer's pseudonym and log the request as completed;
    the export is the request's `export`. Runs in the shop's scope."""
    from integrations.models import PrivacyRequest
    from shops.services.lifecycle import customer_data_export

    return PrivacyRequest.objects.create(
        shop=shop,
        kind=PrivacyRequest.Kind.DATA_REQUEST,
        platform_request_id=platform_request_id,
        customer_ref=customer_ref,
        completed_at=timezone.now(),
        export=customer_data_export(shop=shop, customer_ref=customer_ref),
    )


def privacy_redact_fulfil(*, shop: Shop, customer_ref: str) -> int:
    """Leave the customer's orders as anonymous baskets and log the request as completed;
    returns how many orders lost their reference. Runs in the shop's scope."""
    from integrations.models import PrivacyRequest
    from shops.services.lifecycle import customer_redact

    count = customer_redact(shop=shop, customer_ref=customer_ref)
    PrivacyRequest.objects.create(
        shop=shop,
        kind=PrivacyRequest.Kind.CUSTOMER_REDACT,
        customer_ref=customer_ref,
        completed_at=timezone.now(),
        export={"orders_anonymised": count},
    )
    return count
