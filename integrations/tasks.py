"""Celery entry points of the integrations: thin wrappers around one service each."""

from __future__ import annotations

import datetime as dt
import logging

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from shops.errors import ValidationFailed
from shops.tenancy import shop_scope_by_id

logger = logging.getLogger("basketry.integrations")

# Network errors, 5xx, 429 and THROTTLED beyond the client's own retries: try the task again
# later, a bounded number of times, from the run's checkpoint.
SYNC_RETRY_DELAYS = (30, 120, 600)
# Seconds between polls of a running bulk operation when no bulk_operations/finish arrives.
BULK_POLL_SECONDS = 10


# Webhooks queue: one delivery touches one product or order (or, for shop/redact, every row of a
# shop with set-based deletes); a minute covers the largest shop.
@shared_task(name="integrations.webhook_process", soft_time_limit=60, time_limit=90)
def webhook_process(shop_id: int, delivery_pk: int) -> None:
    from integrations.deliveries import webhook_delivery_process

    with shop_scope_by_id(shop_id) as shop:
        if shop is not None:
            webhook_delivery_process(shop=shop, delivery_pk=delivery_pk)


def _sync(task, shop_id: int, *, kind: str | None = None, run_id: int | None = None) -> None:
    from integrations.models import SyncRun
    from integrations.runs import sync_run_fail
    from integrations.services import SyncBusy, sync_errors, sync_execute

    with shop_scope_by_id(shop_id) as shop:
        if shop is None or shop.status != shop.Status.INSTALLED:
            return
        if run_id is not None:
            run = SyncRun.objects.filter(pk=run_id, status=SyncRun.Status.RUNNING).first()
            if run is None:
                return
            kind = run.kind
        try:
            # Run eagerly (embedded mode, no broker) there is no later task to poll with: wait here.
            run = sync_execute(shop=shop, kind=kind, wait=bool(task.request.is_eager))
        except SyncBusy:
            return  # the worker holding the lock carries the run on and schedules its polls
        except ValidationFailed as error:
            logger.warning("sync.refused shop=%s reason=%s", shop_id, error.message)
            return  # nothing to sync (no keys, a CSV shop): retrying would not change that
        except sync_errors() as error:
            if getattr(error, "retryable", False) and task.request.retries < len(SYNC_RETRY_DELAYS):
                raise task.retry(countdown=SYNC_RETRY_DELAYS[task.request.retries], exc=error) from error
            running = SyncRun.objects.filter(status=SyncRun.Status.RUNNING).order_by("-pk").first()
            if running is not None:
                sync_run_fail(run=running, reason=str(error))
            return
        if run.status == SyncRun.Status.RUNNING:
            sync_poll.apply_async((shop_id, run.pk), countdown=BULK_POLL_SECONDS)


# Sync queue. A bulk result of 100k lines ingests in well under a minute; 15 minutes covers
# shops several times larger. Waiting for Shopify's bulk operation happens between tasks.
@shared_task(name="integrations.sync_run", bind=True, soft_time_limit=15 * 60, time_limit=16 * 60)
def sync_run(self, shop_id: int, kind: str) -> None:
    _sync(self, shop_id, kind=kind)


@shared_task(name="integrations.sync_poll", bind=True, soft_time_limit=15 * 60, time_limit=16 * 60)
def sync_poll(self, shop_id: int, run_id: int) -> None:
    _sync(self, shop_id, run_id=run_id)


# Fans out one sync of that kind per installed Shopify or WooCommerce shop; fast. Beat runs a
# reconciliation every 6 hours and a full sync weekly (the way to notice a deletion whose webhook
# was lost).
@shared_task(name="integrations.sync_all", soft_time_limit=60, time_limit=90)
def sync_all(kind: str) -> int:
    from shops.models import Shop

    shop_ids = list(
        Shop.objects.filter(
            platform__in=(Shop.Platform.SHOPIFY, Shop.Platform.WOOCOMMERCE), status=Shop.Status.INSTALLED
        ).values_list("pk", flat=True)
    )
    for shop_id in shop_ids:
        sync_run.delay(shop_id, kind)
    return len(shop_ids)


# Purges are set-based deletes; ten minutes covers many large shops in one sweep.
@shared_task(name="integrations.shops_purge_due", soft_time_limit=10 * 60, time_limit=11 * 60)
def shops_purge_due() -> int:
    from shops.services.lifecycle import shops_purge_due as purge

    cutoff = timezone.now() - dt.timedelta(hours=settings.SHOP_PURGE_AFTER_UNINSTALL_HOURS)
    return len(purge(older_than=cutoff))


# One set-based delete across shops; fast.
@shared_task(name="integrations.webhook_deliveries_purge", soft_time_limit=5 * 60, time_limit=6 * 60)
def webhook_deliveries_purge() -> int:
    from integrations.deliveries import webhook_deliveries_purge as purge

    return purge(older_than=timezone.now() - dt.timedelta(days=settings.WEBHOOK_RETENTION_DAYS))


# Every minute: deliveries no worker finished go to the broker again (an indexed read of at most
# 500 undone rows and as many publishes); seconds.
@shared_task(name="integrations.webhook_deliveries_sweep", soft_time_limit=50, time_limit=60)
def webhook_deliveries_sweep() -> dict[str, int]:
    from integrations.deliveries import webhook_deliveries_sweep as sweep

    return sweep()


# After a WooCommerce store connects: register (or re-enable) its webhooks, then the first sync;
# after its plugin is activated again: the same, then a reconciliation.
@shared_task(name="integrations.woocommerce_connected", bind=True, soft_time_limit=120, time_limit=150)
def woocommerce_connected(self, shop_id: int, register_webhooks: bool = True, sync_kind: str = "full") -> None:
    from integrations.woocommerce.client import WooCommerceError
    from integrations.woocommerce.connect import woocommerce_webhooks_ensure

    with shop_scope_by_id(shop_id) as shop:
        if shop is None:
            return
        if register_webhooks:
            try:
                woocommerce_webhooks_ensure(shop=shop)
            except WooCommerceError as error:
                if error.retryable and self.request.retries < len(SYNC_RETRY_DELAYS):
                    raise self.retry(countdown=SYNC_RETRY_DELAYS[self.request.retries], exc=error) from error
                raise
            except ValidationFailed as error:
                logger.warning("woocommerce.connected_skipped shop=%s reason=%s", shop_id, error.message)
                return  # paused again or disconnected meanwhile
    sync_run.delay(shop_id, sync_kind)


# Every hour: webhooks WooCommerce disabled after failed deliveries are switched back on, and a
# catch-up sync fetches what they missed.
@shared_task(name="integrations.woocommerce_webhooks_check_all", soft_time_limit=10 * 60, time_limit=11 * 60)
def woocommerce_webhooks_check_all() -> int:
    from integrations.woocommerce.client import WooCommerceError
    from integrations.woocommerce.connect import woocommerce_webhooks_ensure
    from shops.models import Shop

    repaired = 0
    shop_ids = Shop.objects.filter(platform=Shop.Platform.WOOCOMMERCE, status=Shop.Status.INSTALLED).values_list(
        "pk", flat=True
    )
    for shop_id in list(shop_ids):
        with shop_scope_by_id(shop_id) as shop:
            try:
                outcome = woocommerce_webhooks_ensure(shop=shop)
            except WooCommerceError:
                continue  # unreachable store: next hour
            except ValidationFailed:
                continue  # paused (plugin deactivated): its webhooks stay paused
        if any(state != "ok" for state in outcome.values()):
            repaired += 1
            sync_run.delay(shop_id, "reconcile")
    return repaired


# Sync queue (network-bound): one small Admin API query per shop, well within a minute even with
# throttling waits. Network errors, 5xx and 429 beyond the client's own retries try again later.
@shared_task(name="integrations.shopify_billing_reconcile", bind=True, soft_time_limit=60, time_limit=90)
def shopify_billing_reconcile(self, shop_id: int) -> str | None:
    from integrations.shopify.billing import billing_subscriptions_reconcile
    from integrations.shopify.client import ShopifyApiError, ShopifyClient
    from integrations.shopify.install import ShopifyReauthRequired
    from shops.plans import shop_billed

    with shop_scope_by_id(shop_id) as shop:
        if shop is None or shop.status != shop.Status.INSTALLED or not shop_billed(shop=shop):
            return None
        try:
            with ShopifyClient(shop=shop) as client:
                return billing_subscriptions_reconcile(shop=shop, client=client).handle
        except ShopifyApiError as error:
            if error.retryable and self.request.retries < len(SYNC_RETRY_DELAYS):
                raise self.retry(countdown=SYNC_RETRY_DELAYS[self.request.retries], exc=error) from error
            logger.warning("billing.reconcile_failed shop=%s reason=%s", shop_id, error)
        except (ShopifyReauthRequired, ValidationFailed) as error:
            # No usable token: the plan stays as it is until the merchant opens the app again.
            logger.warning("billing.reconcile_failed shop=%s reason=%s", shop_id, error)
    return None


# Fans out one billing reconciliation per installed Shopify shop; fast. Beat runs it every 6 hours,
# which repairs a lost app_subscriptions/update.
@shared_task(name="integrations.shopify_billing_reconcile_all", soft_time_limit=60, time_limit=90)
def shopify_billing_reconcile_all() -> int:
    from shops.models import Shop
    from shops.plans import billing_enabled

    if not billing_enabled():
        return 0
    shop_ids = list(
        Shop.objects.filter(platform=Shop.Platform.SHOPIFY, status=Shop.Status.INSTALLED).values_list("pk", flat=True)
    )
    for shop_id in shop_ids:
        shopify_billing_reconcile.delay(shop_id)
    return len(shop_ids)
