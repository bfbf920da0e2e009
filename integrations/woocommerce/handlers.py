"""Processing of a recorded WooCommerce delivery, by topic. Each handler is safe to run twice."""

from __future__ import annotations

from django.core.cache import cache
from django.db import transaction
from django.db.models import DateTimeField, F, Value
from django.db.models.functions import Coalesce, Greatest

from integrations.models import WebhookDelivery
from integrations.woocommerce.lifecycle import woocommerce_paused
from integrations.writes import order_from_work, orders_write, product_from_work, time_from_work
from shops.models import Order, Shop
from shops.services.catalog import product_bulk_delete, product_bulk_upsert

VARIATION_RECONCILE_SECONDS = 60


def delivery_apply(*, shop: Shop, delivery: WebhookDelivery) -> tuple[str, str]:
    """Apply one delivery; returns (status, detail). Runs inside the shop's scope."""
    if shop.status != Shop.Status.INSTALLED:
        return WebhookDelivery.Status.IGNORED, "shop not installed"
    if woocommerce_paused(shop):
        return WebhookDelivery.Status.IGNORED, "paused: the plugin is deactivated"
    topic, work = delivery.topic, delivery.work
    with transaction.atomic():
        if topic == "product.deleted":
            if not product_bulk_delete(shop=shop, external_ids=[work["id"]], keep_timestamp=True):
                return WebhookDelivery.Status.IGNORED, "unknown or already deleted"
        elif topic.startswith("product."):
            if "variation_of" in work:
                # A stock update touches many variations at once: one reconciliation a minute
                # picks up all their parents.
                if not cache.add(f"shop:{shop.pk}:variation-reconcile", 1, timeout=VARIATION_RECONCILE_SECONDS):
                    return WebhookDelivery.Status.DONE, "variation changed: a reconciliation is already queued"
                from integrations.tasks import sync_run

                shop_id = shop.pk
                transaction.on_commit(
                    lambda: sync_run.apply_async((shop_id, "reconcile"), countdown=VARIATION_RECONCILE_SECONDS)
                )
                return WebhookDelivery.Status.DONE, "variation changed: reconciliation queued"
            product_bulk_upsert(shop=shop, records=[product_from_work(work["product"])], skip_stale=True)
        elif topic == "order.deleted":
            # Trashed: it stays a basket no more; training reads paid orders only. The change time
            # moves up to the delivery's, so a late order.updated from before it cannot undo it
            # (a restore afterwards carries a newer modification time and applies).
            deleted_at = Value(delivery.triggered_at, output_field=DateTimeField())
            if not Order.objects.filter(external_id=work["id"]).update(
                status=Order.Status.CANCELLED, updated_at=Greatest(Coalesce(F("updated_at"), deleted_at), deleted_at)
            ):
                return WebhookDelivery.Status.IGNORED, "unknown order"
        elif topic.startswith("order."):
            if work["order"] is None:
                return WebhookDelivery.Status.IGNORED, "not an order yet (checkout draft)"
            record = order_from_work(work["order"])
            created, updated = orders_write(
                shop=shop,
                records=[record],
                updated_at={record.external_id: time_from_work(work["updated_at"])},
                titles=work.get("titles") or {},
            )
            if not created and not updated:
                return WebhookDelivery.Status.IGNORED, "stale: the stored order is as new or newer"
        else:
            return WebhookDelivery.Status.IGNORED, f"topic {topic} not handled"
    return WebhookDelivery.Status.DONE, ""
