"""POST /webhooks/woocommerce/<shop id>: the delivery URL Basketry registers for each store.

The shop comes from the URL and is proven by the signature: `X-WC-Webhook-Signature` is the
base64 HMAC-SHA256 of the raw body with that shop's own webhook secret, compared in constant time.
WooCommerce's creation ping (form body `webhook_id=N`, unsigned) is answered 200 and stored
nowhere. Deliveries are deduplicated on `X-WC-Webhook-Delivery-ID`. The answer is always 200
or an error, never a redirect: WooCommerce counts a 3xx as delivered.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import re

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from integrations.deliveries import webhook_delivery_record
from integrations.parsing import PayloadInvalid, declared_length
from integrations.woocommerce.connect import WEBHOOK_TOPICS
from integrations.woocommerce.mapping import gmt_time, order_from_woo, product_from_woo, woo_id
from integrations.writes import record_to_work
from shops.models import Shop

_PING = re.compile(rb"^webhook_id=[0-9]+$")


def _answer(status: int, message: str) -> HttpResponse:
    return JsonResponse({"error": message} if status >= 400 else {"ok": message}, status=status)


def work_from_payload(*, topic: str, payload: dict, shop: Shop) -> dict:
    """What processing needs, and nothing about the shopper beyond a keyed hash."""
    resource, _, event = topic.partition(".")
    if event in ("deleted",):
        return {"id": woo_id(payload.get("id"))}
    if resource == "product":
        if payload.get("parent_id"):
            # A variation changed: the parent's stock and price follow on the next sync.
            return {"variation_of": woo_id(payload["parent_id"])}
        return {"product": record_to_work(product_from_woo(payload))}
    record, modified, titles = order_from_woo(payload)
    if record is None:
        return {"order": None}
    ref = shop.customer_ref(record.customer_id) if record.customer_id else None
    record = dataclasses.replace(record, customer_id=None, customer_ref=ref)
    return {"order": record_to_work(record), "updated_at": modified.isoformat() if modified else None, "titles": titles}


def _signed(shop: Shop, body: bytes, signature: str) -> bool:
    secret = (shop.credentials or {}).get("webhook_secret", "")
    if not secret or not signature:
        return False
    expected = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    return hmac.compare_digest(expected, signature)


@csrf_exempt
def woocommerce_webhook(request: HttpRequest, shop_id: int) -> HttpResponse:
    if request.method != "POST":
        response = _answer(405, "POST only")
        response["Allow"] = "POST"
        return response
    if declared_length(request) > settings.SHOPIFY_WEBHOOK_MAX_BYTES or (
        len(request.body) > settings.SHOPIFY_WEBHOOK_MAX_BYTES
    ):
        return _answer(413, "body too large")
    signature = request.headers.get("X-WC-Webhook-Signature", "")
    if not signature and _PING.match(request.body.strip()):
        return _answer(200, "ping")
    shop = Shop.objects.filter(pk=shop_id, platform=Shop.Platform.WOOCOMMERCE).first()
    # An unknown shop and a bad signature answer alike, so the URL reveals nothing.
    if shop is None or not _signed(shop, request.body, signature):
        return _answer(401, "invalid signature")
    topic = request.headers.get("X-WC-Webhook-Topic", "")
    delivery_id = request.headers.get("X-WC-Webhook-Delivery-ID", "").strip()
    if topic not in WEBHOOK_TOPICS:
        return _answer(200, f"topic {topic or '-'} not handled")
    if not delivery_id or len(delivery_id) > 200:
        return _answer(400, "X-WC-Webhook-Delivery-ID is required")
    try:
        payload = json.loads(request.body)
        if not isinstance(payload, dict):
            raise ValueError("not an object")
        work = work_from_payload(topic=topic, payload=payload, shop=shop)
    except (ValueError, UnicodeDecodeError, RecursionError, PayloadInvalid, KeyError, TypeError) as error:
        return _answer(400, f"payload: {error}")
    # WooCommerce sends no event time; the resource's own modification time orders deliveries.
    modified = gmt_time(payload.get("date_modified_gmt")) if "date_modified_gmt" in payload else None
    answer = webhook_delivery_record(
        shop=shop,
        platform="woocommerce",
        delivery_id=delivery_id,
        topic=topic,
        triggered_at=modified or timezone.now(),
        work=work,
        durable=True,
    )
    return _answer(200, answer)
