"""Webhook deliveries as an outbox: record once, send to a worker, send again until done.

A verified delivery is a `WebhookDelivery` row first and a broker message second. The message
is sent after commit, with no retries and short socket timeouts (a down or hung broker costs the
ingress a few seconds at most, never the delivery). Whatever did not finish (the broker refused
the message, the worker died, processing raised) stays `queued` with a `next_attempt_at`; the
sweeper sends it again with a growing delay, and after `WEBHOOK_MAX_ATTEMPTS` unfinished attempts
the delivery becomes a dead letter the operator sees, with its last error. A platform's retry of
a delivery that is not done yet is answered by sending it again, never by "duplicate".
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from integrations.models import WebhookDelivery
from shops.models import Shop
from shops.tenancy import shop_scope

logger = logging.getLogger("basketry.webhooks")

UNDONE = (WebhookDelivery.Status.QUEUED, WebhookDelivery.Status.DEAD)
# A claimed delivery is not sent again before this: longer than webhook_process's 90 s hard time
# limit, so only a worker that died (or a message that was lost) leaves it to the sweeper.
CLAIM = dt.timedelta(minutes=5)


def retry_delay(attempts: int) -> dt.timedelta:
    """How long after its `attempts`-th unfinished attempt a delivery is sent again: a minute,
    doubling, at most an hour (eight attempts span about four hours, as Shopify's own retries)."""
    return dt.timedelta(seconds=min(60 * 2 ** max(attempts - 1, 0), 3600))


def webhook_delivery_record(
    *, shop: Shop, platform: str, delivery_id: str, topic: str, triggered_at: dt.datetime, work: dict, durable: bool
) -> str:
    """Store a verified delivery and send it to a worker after commit; returns what to answer.

    A delivery id seen before is sent again if it is not done (an earlier attempt was lost or a
    previous answer never reached the platform), else it is a duplicate.
    """
    try:
        with transaction.atomic(), shop_scope(shop):
            if not durable:
                _relaxed_commit()
            delivery = WebhookDelivery.objects.create(
                shop=shop,
                platform=platform,
                delivery_id=delivery_id,
                topic=topic,
                triggered_at=triggered_at,
                work=work,
                # If the message never reaches a worker, the sweeper sends it after this.
                next_attempt_at=timezone.now() + retry_delay(1),
            )
            delivery_pk = delivery.pk
            transaction.on_commit(lambda: webhook_delivery_send(shop_id=shop.pk, delivery_pk=delivery_pk))
    except IntegrityError:
        return _redelivered(shop=shop, platform=platform, delivery_id=delivery_id)
    return "queued"


def _redelivered(*, shop: Shop, platform: str, delivery_id: str) -> str:
    with transaction.atomic(), shop_scope(shop):
        delivery = (
            WebhookDelivery.objects.select_for_update()
            .filter(platform=platform, delivery_id=delivery_id)
            .only("pk", "status", "attempts")
            .first()
        )
        if delivery is None or delivery.status not in UNDONE:
            return "duplicate delivery"
        if delivery.status == WebhookDelivery.Status.DEAD:
            # The platform still wants it done: a fresh round of attempts.
            WebhookDelivery.objects.filter(pk=delivery.pk).update(
                status=WebhookDelivery.Status.QUEUED, attempts=0, next_attempt_at=timezone.now() + retry_delay(1)
            )
        delivery_pk = delivery.pk
        transaction.on_commit(lambda: webhook_delivery_send(shop_id=shop.pk, delivery_pk=delivery_pk))
    return "not done yet: sent again"


def _relaxed_commit() -> None:
    """Catalogue and order changes do not wait for the WAL flush before the 200: if a crash lost
    one in the WAL writer's fraction of a second, the periodic reconciliation brings it back."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


def webhook_delivery_send(*, shop_id: int, delivery_pk: int) -> bool:
    """Hand a recorded delivery to a worker; False when the broker did not take it (the
    sweeper sends it later). Never raises: the delivery is safe in the database already."""
    from integrations.tasks import webhook_process

    try:
        webhook_process.apply_async((shop_id, delivery_pk), retry=False)
    except Exception:  # noqa: BLE001 - any broker failure: kombu, redis-py and socket errors alike
        if getattr(webhook_process.app.conf, "task_always_eager", False):
            raise  # eager mode runs the task here: its errors are the task's, not the broker's
        logger.warning("webhook.send_failed shop=%s delivery=%s: left to the sweeper", shop_id, delivery_pk)
        return False
    return True


def webhook_delivery_process(*, shop: Shop, delivery_pk: int) -> str | None:
    """Apply a recorded delivery once; a second call finds it done and does nothing.

    An attempt is counted before the work starts, so a worker killed halfway leaves a delivery
    the sweeper sends again later. An error other than a payload Basketry cannot use is recorded
    on the delivery and retried; after WEBHOOK_MAX_ATTEMPTS the delivery is a dead letter.
    """
    from integrations.parsing import PayloadInvalid
    from integrations.shopify import handlers as shopify_handlers
    from integrations.woocommerce import handlers as woocommerce_handlers

    started = timezone.now()
    claimed = WebhookDelivery.objects.filter(pk=delivery_pk, status=WebhookDelivery.Status.QUEUED).update(
        attempts=F("attempts") + 1, next_attempt_at=started + CLAIM
    )
    if not claimed:
        return None
    try:
        with transaction.atomic():
            delivery = WebhookDelivery.objects.select_for_update().filter(pk=delivery_pk).first()
            if delivery is None or delivery.status != WebhookDelivery.Status.QUEUED:
                return None
            topic = delivery.topic
            try:
                handlers = woocommerce_handlers if delivery.platform == "woocommerce" else shopify_handlers
                status, detail = handlers.delivery_apply(shop=shop, delivery=delivery)
            except (PayloadInvalid, KeyError, ValueError) as error:
                # Trying again would read the same payload: final.
                status, detail = WebhookDelivery.Status.FAILED, f"{type(error).__name__}: {error}"
            if topic != "shop/redact":  # the purge removed the delivery with everything else
                WebhookDelivery.objects.filter(pk=delivery_pk).update(
                    status=status, detail=detail[:2000], processed_at=timezone.now(), next_attempt_at=None
                )
    except Exception as error:  # noqa: BLE001 - recorded and retried by the sweeper, never lost
        webhook_delivery_attempt_failed(delivery_pk=delivery_pk, error=error)
        logger.exception("webhook.attempt_failed shop=%s delivery=%s", shop.pk, delivery_pk)
        return WebhookDelivery.Status.QUEUED
    logger.info("webhook.processed shop=%s topic=%s status=%s", shop.pk, topic, status)
    return status


def webhook_delivery_attempt_failed(*, delivery_pk: int, error: BaseException) -> None:
    """Record an unfinished attempt: retried after a growing delay, a dead letter at the last."""
    delivery = WebhookDelivery.objects.filter(pk=delivery_pk, status=WebhookDelivery.Status.QUEUED).first()
    if delivery is None:
        return
    reason = f"attempt {delivery.attempts}: {type(error).__name__}: {error}"[:2000]
    if delivery.attempts >= settings.WEBHOOK_MAX_ATTEMPTS:
        WebhookDelivery.objects.filter(pk=delivery_pk).update(
            status=WebhookDelivery.Status.DEAD, detail=reason, next_attempt_at=None
        )
        logger.error("webhook.dead_letter delivery=%s topic=%s %s", delivery_pk, delivery.topic, reason)
        return
    WebhookDelivery.objects.filter(pk=delivery_pk).update(
        detail=reason, next_attempt_at=timezone.now() + retry_delay(delivery.attempts)
    )


def webhook_deliveries_sweep(*, now: dt.datetime | None = None, batch: int = 500) -> dict[str, int]:
    """Send again every undone delivery whose time has come (all shops); deliveries that used up
    their attempts become dead letters. Returns {"sent": n, "dead": n}."""
    now = now or timezone.now()
    due = list(
        WebhookDelivery.all_shops.filter(status=WebhookDelivery.Status.QUEUED, next_attempt_at__lte=now)
        .order_by("next_attempt_at")
        .values_list("pk", "shop_id", "attempts", "topic")[:batch]
    )
    outcome = {"sent": 0, "dead": 0}
    for delivery_pk, shop_id, attempts, topic in due:
        if attempts >= settings.WEBHOOK_MAX_ATTEMPTS:
            WebhookDelivery.all_shops.filter(pk=delivery_pk, status=WebhookDelivery.Status.QUEUED).update(
                status=WebhookDelivery.Status.DEAD,
                detail=f"gave up after {attempts} unfinished attempts (the worker stopped or timed out)",
                next_attempt_at=None,
            )
            logger.error("webhook.dead_letter delivery=%s topic=%s attempts=%s", delivery_pk, topic, attempts)
            outcome["dead"] += 1
            continue
        # Not again before this, whether or not a worker takes it at once.
        WebhookDelivery.all_shops.filter(pk=delivery_pk).update(next_attempt_at=now + retry_delay(attempts + 1))
        if webhook_delivery_send(shop_id=shop_id, delivery_pk=delivery_pk):
            outcome["sent"] += 1
    if due:
        logger.info("webhook.sweep sent=%s dead=%s", outcome["sent"], outcome["dead"])
    return outcome


def webhook_deliveries_retry(*, delivery_pks: list[int] | None = None) -> int:
    """Put dead letters back in the queue (all of them, or those named): the operator's way out
    once the cause is fixed. Returns how many."""
    dead = WebhookDelivery.all_shops.filter(status=WebhookDelivery.Status.DEAD)
    if delivery_pks is not None:
        dead = dead.filter(pk__in=delivery_pks)
    return dead.update(status=WebhookDelivery.Status.QUEUED, attempts=0, next_attempt_at=timezone.now())


def webhook_deliveries_purge(*, older_than: dt.datetime) -> int:
    """Forget processed deliveries received before `older_than` (all shops); returns how many.

    Undone ones (queued, dead letters) stay whatever their age: they still have work to do.
    """
    deleted, _ = WebhookDelivery.all_shops.filter(received_at__lt=older_than).exclude(status__in=UNDONE).delete()
    return deleted
