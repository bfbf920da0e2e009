"""Processing of a recorded Shopify delivery, by topic. Each handler is safe to run twice."""

from __future__ import annotations

import dataclasses

from django.db import transaction

from integrations.models import SyncRun, WebhookDelivery
from integrations.services import privacy_data_request_fulfil, privacy_redact_fulfil
from integrations.writes import order_from_work, orders_write, product_from_work, time_from_work
from shops.models import Product, Shop
from shops.records import ProductRecord
from shops.services.catalog import product_bulk_delete, product_bulk_upsert
from shops.services.lifecycle import shop_purge, shop_uninstall


class Outcome:
    DONE = WebhookDelivery.Status.DONE
    IGNORED = WebhookDelivery.Status.IGNORED


COLLECTION_TAG = "collection:"


def _with_collections(record: ProductRecord) -> ProductRecord:
    """Product webhooks carry no collections: keep the `collection:` tags the last sync stored
    (reconciliation refreshes them), so that collection rules keep applying after an update."""
    stored = (
        Product.objects.select_for_update()
        .filter(external_id=record.external_id)
        .values_list("tags", flat=True)
        .first()
    )
    kept = tuple(tag for tag in stored or () if isinstance(tag, str) and tag.startswith(COLLECTION_TAG))
    own = tuple(tag for tag in record.tags if not tag.startswith(COLLECTION_TAG))
    return dataclasses.replace(record, tags=own + kept)


def delivery_apply(*, shop: Shop, delivery: WebhookDelivery) -> tuple[str, str]:
    """Apply one delivery; returns (status, detail). Runs inside the shop's scope."""
    topic, work = delivery.topic, delivery.work
    if topic == "shop/redact":
        shop_purge(shop=shop)
        return Outcome.DONE, "every row of the shop deleted"
    if topic == "app/uninstalled":
        if shop.installed_at and delivery.triggered_at < shop.installed_at:
            return Outcome.IGNORED, "fired before the current installation"
        shop_uninstall(shop=shop, at=delivery.triggered_at)
        return Outcome.DONE, "tokens dropped, serving stopped"
    if shop.status != Shop.Status.INSTALLED and not topic.startswith("customers/"):
        return Outcome.IGNORED, "shop not installed"
    with transaction.atomic():
        if topic in ("products/create", "products/update"):
            product_bulk_upsert(
                shop=shop, records=[_with_collections(product_from_work(work["product"]))], skip_stale=True
            )
        elif topic == "products/delete":
            changed = product_bulk_delete(
                shop=shop, external_ids=[work["product_id"]], deleted_at=delivery.triggered_at
            )
            if not changed:
                return Outcome.IGNORED, "unknown, already deleted or changed since"
        elif topic.startswith("orders/"):
            record = order_from_work(work["order"])
            created, updated = orders_write(
                shop=shop,
                records=[record],
                updated_at={record.external_id: time_from_work(work["updated_at"])},
                titles=work.get("titles") or {},
            )
            if not created and not updated:
                return Outcome.IGNORED, "stale: the stored order is as new or newer"
        elif topic == "customers/redact":
            privacy_redact_fulfil(shop=shop, customer_ref=work["customer_ref"])
        elif topic == "customers/data_request":
            privacy_data_request_fulfil(
                shop=shop, customer_ref=work["customer_ref"], platform_request_id=work.get("request_id", "")
            )
        elif topic == "bulk_operations/finish":
            waiting = SyncRun.objects.filter(status=SyncRun.Status.RUNNING, checkpoint__bulk_id=work["bulk_id"]).first()
            if waiting is None:
                return Outcome.IGNORED, "no sync waits for this operation"
            from integrations.tasks import sync_poll

            run_id = waiting.pk
            transaction.on_commit(lambda: sync_poll.delay(shop.pk, run_id))
        elif topic == "app_subscriptions/update":
            return _subscription_update(shop=shop, work=work)
        elif topic == "app/scopes_update":
            if work.get("unbound"):
                return Outcome.IGNORED, "the shop's id is not known yet: nothing ties the body to this shop"
            locked = Shop.objects.select_for_update().get(pk=shop.pk)
            locked.credentials = {**locked.credentials, "scope": ",".join(work.get("scopes") or [])}
            locked.save(update_fields=["credentials", "updated_at"])
        else:
            return Outcome.IGNORED, f"topic {topic} not handled"
    return Outcome.DONE, ""


def _subscription_update(*, shop: Shop, work: dict) -> tuple[str, str]:
    """Shopify Billing: apply the change, or, when the body is not tied to this shop yet or names
    a subscription we did not start, read the shop's subscriptions from Shopify instead."""
    from integrations.shopify.billing import billing_subscription_update_apply

    if not work.get("unbound"):
        applied, detail = billing_subscription_update_apply(shop=shop, work=work)
        if applied:
            return Outcome.DONE, detail
        if detail.startswith("stale"):
            return Outcome.IGNORED, detail
    from integrations.tasks import shopify_billing_reconcile

    shop_id = shop.pk
    transaction.on_commit(lambda: shopify_billing_reconcile.delay(shop_id))
    return Outcome.DONE, "the shop's subscriptions are read from Shopify"
