"""POST /webhooks/shopify: the one ingress for every Shopify topic, compliance topics included.

Verify the HMAC over the raw body (current secret, then the previous one), resolve the shop,
minimise the payload to what processing needs (no shopper fields; customer ids hashed here),
record the delivery under its unique webhook id, queue processing on commit, answer 200 fast.
"""

from __future__ import annotations

import dataclasses
import json
import logging

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from integrations.models import WebhookDelivery
from integrations.parsing import PayloadInvalid
from integrations.shopify.auth import app_config, customer_id_from_gid, shop_domain_valid
from integrations.shopify.mapping import numeric_id, order_from_rest, parse_time, product_from_rest
from integrations.writes import record_to_work
from shops.models import Shop
from shops.tenancy import shop_scope

logger = logging.getLogger("basketry.webhooks")

PRODUCT_TOPICS = ("products/create", "products/update")
ORDER_TOPICS = ("orders/create", "orders/updated", "orders/paid", "orders/cancelled")
COMPLIANCE_TOPICS = ("customers/data_request", "customers/redact", "shop/redact")
KNOWN_TOPICS = (
    *PRODUCT_TOPICS,
    "products/delete",
    *ORDER_TOPICS,
    "app/uninstalled",
    "app/scopes_update",
    "bulk_operations/finish",
    *COMPLIANCE_TOPICS,
)


# Deliveries whose loss nothing else would repair: they wait for the WAL flush before the 200.
# Catalogue and order changes do not: if a crash lost one in the WAL writer's fraction of a second,
# the periodic reconciliation brings the change back, and the answer does not wait on the disk.
DURABLE_TOPICS = (*COMPLIANCE_TOPICS, "app/uninstalled", "bulk_operations/finish")


def _relaxed_commit() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


def _plain(status: int, message: str) -> HttpResponse:
    return JsonResponse({"error": message} if status >= 400 else {"ok": message}, status=status)


def work_from_payload(*, topic: str, payload: dict, shop: Shop) -> dict:
    """What processing needs from a delivery, and nothing about the shopper beyond a keyed hash."""
    if topic in PRODUCT_TOPICS:
        return {"product": record_to_work(product_from_rest(payload, domain=shop.domain))}
    if topic == "products/delete":
        return {"product_id": numeric_id(payload.get("id"))}
    if topic in ORDER_TOPICS:
        record, updated_at, titles = order_from_rest(payload)
        ref = shop.customer_ref(record.customer_id) if record.customer_id else None
        record = dataclasses.replace(record, customer_id=None, customer_ref=ref)
        return {
            "order": record_to_work(record),
            "updated_at": updated_at.isoformat() if updated_at else None,
            "titles": titles,
        }
    if topic in ("customers/redact", "customers/data_request"):
        customer = payload.get("customer") or {}
        customer_id = customer_id_from_gid(customer.get("id")) if isinstance(customer, dict) else ""
        if not customer_id:
            raise PayloadInvalid("customer id missing")
        work = {"customer_ref": shop.customer_ref(customer_id)}
        if topic == "customers/data_request":
            work["request_id"] = str((payload.get("data_request") or {}).get("id") or "")
            work["orders_requested"] = [str(order) for order in payload.get("orders_requested") or []][:1000]
        else:
            work["orders_to_redact"] = [str(order) for order in payload.get("orders_to_redact") or []][:1000]
        return work
    if topic == "bulk_operations/finish":
        return {
            "bulk_id": str(payload.get("admin_graphql_api_id") or ""),
            "status": str(payload.get("status") or ""),
        }
    if topic == "app/scopes_update":
        current = payload.get("current") or []
        return {"scopes": [str(scope) for scope in current][:50]}
    return {}


def _verified(request: HttpRequest) -> bool:
    from shopify_app import verify_webhook_req

    if not settings.SHOPIFY_API_SECRET:
        return False
    result = verify_webhook_req(
        {
            "method": "POST",
            "headers": {key: value for key, value in request.headers.items()},
            "url": request.build_absolute_uri(),
            "body": request.body.decode("utf-8", errors="surrogateescape"),
        },
        app_config(),
    )
    return bool(result.ok)


@csrf_exempt
def shopify_webhook(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        response = _plain(405, "POST only")
        response["Allow"] = "POST"
        return response
    declared = int(request.META.get("CONTENT_LENGTH") or 0)
    if declared > settings.SHOPIFY_WEBHOOK_MAX_BYTES or len(request.body) > settings.SHOPIFY_WEBHOOK_MAX_BYTES:
        return _plain(413, "body too large")
    if not request.headers.get("X-Shopify-Hmac-Sha256"):
        return _plain(401, "missing X-Shopify-Hmac-Sha256")
    if not _verified(request):
        return _plain(401, "invalid HMAC")
    topic = request.headers.get("X-Shopify-Topic", "")
    domain = request.headers.get("X-Shopify-Shop-Domain", "").strip().lower()
    webhook_id = request.headers.get("X-Shopify-Webhook-Id", "").strip()
    if not topic or not webhook_id or not shop_domain_valid(domain):
        return _plain(400, "X-Shopify-Topic, X-Shopify-Webhook-Id and a valid X-Shopify-Shop-Domain are required")
    try:
        payload = json.loads(request.body)
        if not isinstance(payload, dict):
            raise ValueError("not an object")
    except (ValueError, UnicodeDecodeError):
        return _plain(400, "the body is not a JSON object")
    # The shop header is not covered by the HMAC; where the payload names the shop, they must agree.
    if payload.get("shop_domain") and str(payload["shop_domain"]).lower() != domain:
        return _plain(400, "X-Shopify-Shop-Domain and the payload's shop_domain differ")
    try:
        triggered_at = parse_time(request.headers.get("X-Shopify-Triggered-At")) or timezone.now()
    except PayloadInvalid:
        return _plain(400, "X-Shopify-Triggered-At is not a timestamp")
    # The credentials are not needed here; not loading them skips their decryption.
    shop = Shop.objects.defer("credentials").filter(platform=Shop.Platform.SHOPIFY, domain=domain).first()
    if shop is None:
        # Already purged, or never installed: nothing to do, and a retry would not change that.
        return _plain(200, "unknown shop: ignored")
    if topic not in KNOWN_TOPICS:
        return _plain(200, f"topic {topic} not handled")
    try:
        work = work_from_payload(topic=topic, payload=payload, shop=shop)
    except (PayloadInvalid, KeyError, TypeError, ValueError) as error:
        return _plain(400, f"payload: {error}")
    try:
        with transaction.atomic(), shop_scope(shop):
            if topic not in DURABLE_TOPICS:
                _relaxed_commit()
            delivery = WebhookDelivery.objects.create(
                shop=shop,
                platform="shopify",
                delivery_id=webhook_id,
                topic=topic,
                triggered_at=triggered_at,
                work=work,
            )
            _queue(shop.pk, delivery.pk)
    except IntegrityError:
        return _plain(200, "duplicate delivery")
    return _plain(200, "queued")


def _queue(shop_id: int, delivery_pk: int) -> None:
    from integrations.tasks import webhook_process

    transaction.on_commit(lambda: webhook_process.delay(shop_id, delivery_pk))
