"""POST /webhooks/shopify: the one ingress for every Shopify topic, compliance topics included.

Verify the HMAC over the raw body (current secret, then the previous one), resolve the shop, tie
the body to that shop and topic (binding.py: the HMAC covers the body only), minimise the payload
to what processing needs (no shopper fields; customer ids hashed here), record the delivery in the
outbox under its unique webhook id (deliveries.py), answer 200 fast.
"""

from __future__ import annotations

import dataclasses
import json
import logging

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from integrations.deliveries import webhook_delivery_record
from integrations.parsing import PayloadInvalid, declared_length
from integrations.shopify.auth import app_config, customer_id_from_gid, shop_domain_valid
from integrations.shopify.binding import COMPLIANCE_TOPICS, ORDER_TOPICS, PRODUCT_TOPICS, ForeignPayload, payload_check
from integrations.shopify.install import customers_readable
from integrations.shopify.mapping import numeric_id, order_from_rest, parse_time, product_from_rest
from integrations.writes import record_to_work
from shops.models import Shop

logger = logging.getLogger("basketry.webhooks")

KNOWN_TOPICS = (
    *PRODUCT_TOPICS,
    "products/delete",
    *ORDER_TOPICS,
    "app/uninstalled",
    "app/scopes_update",
    "bulk_operations/finish",
    "app_subscriptions/update",
    *COMPLIANCE_TOPICS,
)


# Deliveries whose loss nothing else would repair: they wait for the WAL flush before the 200.
# Catalogue and order changes do not: the periodic reconciliation brings back one a crash lost.
DURABLE_TOPICS = (*COMPLIANCE_TOPICS, "app/uninstalled", "bulk_operations/finish", "app_subscriptions/update")
# Shopify's webhook ids are UUIDs; the column holds 255 characters.
MAX_WEBHOOK_ID = 255


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
        # Without read_customers the syncs read anonymous baskets; webhooks follow the same rule.
        ref = shop.customer_ref(record.customer_id) if record.customer_id and customers_readable(shop) else None
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
    if topic == "app_subscriptions/update":
        subscription = payload["app_subscription"]
        return {
            "subscription_id": subscription["admin_graphql_api_id"],
            "name": str(subscription.get("name") or "")[:255],
            "status": str(subscription.get("status") or "")[:32],
            "updated_at": str(subscription.get("updated_at") or "")[:64],
            # Before a sync has read the shop's id nothing ties the body to this shop (binding.py).
            "unbound": not shop.platform_id,
        }
    if topic == "app/scopes_update":
        if not shop.platform_id:
            return {"unbound": True}  # nothing yet ties the body to this shop (binding.py)
        current = payload.get("current") or []
        return {"scopes": [str(scope) for scope in current][:50]}
    return {}


def _verified(request: HttpRequest, body: str) -> bool:
    from shopify_app import verify_webhook_req

    if not settings.SHOPIFY_API_SECRET:
        return False
    result = verify_webhook_req(
        {
            "method": "POST",
            "headers": {key: value for key, value in request.headers.items()},
            "url": request.build_absolute_uri(),
            "body": body,
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
    if declared_length(request) > settings.SHOPIFY_WEBHOOK_MAX_BYTES or (
        len(request.body) > settings.SHOPIFY_WEBHOOK_MAX_BYTES
    ):
        return _plain(413, "body too large")
    if not request.headers.get("X-Shopify-Hmac-Sha256"):
        return _plain(401, "missing X-Shopify-Hmac-Sha256")
    try:
        # Shopify sends UTF-8 JSON; the HMAC library hashes the text re-encoded as UTF-8.
        body = request.body.decode("utf-8")
    except UnicodeDecodeError:
        return _plain(400, "the body is not UTF-8 text")
    try:
        verified = _verified(request, body)
    except RecursionError:
        # The library parses the body (to redact its log line) before comparing the HMAC.
        return _plain(400, "the body is not a JSON object (nested too deeply)")
    if not verified:
        return _plain(401, "invalid HMAC")
    topic = request.headers.get("X-Shopify-Topic", "")
    domain = request.headers.get("X-Shopify-Shop-Domain", "").strip().lower()
    webhook_id = request.headers.get("X-Shopify-Webhook-Id", "").strip()
    if not topic or not webhook_id or not shop_domain_valid(domain):
        return _plain(400, "X-Shopify-Topic, X-Shopify-Webhook-Id and a valid X-Shopify-Shop-Domain are required")
    if len(webhook_id) > MAX_WEBHOOK_ID:
        return _plain(400, f"X-Shopify-Webhook-Id is longer than {MAX_WEBHOOK_ID} characters")
    try:
        payload = json.loads(body)
        if not isinstance(payload, dict):
            raise ValueError("not an object")
    except (ValueError, UnicodeDecodeError, RecursionError):
        return _plain(400, "the body is not a JSON object")
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
        # The HMAC covers the body only: the body itself must fit the topic and this shop.
        payload_check(topic=topic, payload=payload, shop=shop)
        work = work_from_payload(topic=topic, payload=payload, shop=shop)
    except ForeignPayload as error:
        logger.warning("webhook.refused shop=%s topic=%s reason=%s", shop.pk, topic, error)
        return _plain(403, f"payload: {error}")
    except (PayloadInvalid, KeyError, TypeError, ValueError) as error:
        return _plain(400, f"payload: {error}")
    answer = webhook_delivery_record(
        shop=shop,
        platform="shopify",
        delivery_id=webhook_id,
        topic=topic,
        triggered_at=triggered_at,
        work=work,
        durable=topic in DURABLE_TOPICS,
    )
    return _plain(200, answer)
