"""WooCommerce entry points: the Connect flow and the plugin's signed API."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.decorators import api_view, authentication_classes, permission_classes
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from integrations.principals import ShopPrincipal
from integrations.woocommerce.connect import (
    woocommerce_connect_callback,
    woocommerce_connect_manual,
    woocommerce_connect_start,
)
from integrations.woocommerce.lifecycle import (
    key_ending,
    woocommerce_disconnect,
    woocommerce_pause,
    woocommerce_paused,
    woocommerce_resume,
)
from recommendations.storefront.identity import CREDENTIALS_KEY
from shops.errors import ValidationFailed
from shops.models import Shop
from shops.tenancy import shop_scope

# Plugin requests older or newer than this are refused (replays, badly wrong clocks).
SIGNATURE_WINDOW_SECONDS = 300


@csrf_exempt  # called server to server by the plugin; nothing here reads a session
@require_POST
def connect_start(request: HttpRequest) -> JsonResponse:
    """POST /woocommerce/connect/start {"store_url", "return_url", "plugin_key"} ->
    {"authorize_url"}: where the plugin sends the merchant to approve Basketry's key."""
    try:
        body = json.loads(request.body)
        if not isinstance(body, dict):
            raise ValueError
    except (ValueError, UnicodeDecodeError):
        return JsonResponse({"error": 'expected JSON {"store_url", "return_url", "plugin_key"}'}, status=400)
    try:
        url = woocommerce_connect_start(
            store_url=str(body.get("store_url", "")),
            return_url=str(body.get("return_url", "")),
            plugin_key=str(body.get("plugin_key", "")),
        )
    except ValidationFailed as error:
        return JsonResponse({"error": error.message}, status=400)
    return JsonResponse({"authorize_url": url})


@csrf_exempt  # called server to server by the plugin; the keys prove themselves with a test call
@require_POST
def connect_manual(request: HttpRequest) -> JsonResponse:
    """POST /woocommerce/connect/manual {"store_url", "consumer_key", "consumer_secret",
    "plugin_key"}: keys the merchant created in WooCommerce and pasted into the plugin."""
    try:
        body = json.loads(request.body)
        if not isinstance(body, dict):
            raise ValueError
    except (ValueError, UnicodeDecodeError):
        return JsonResponse(
            {"error": 'expected JSON {"store_url", "consumer_key", "consumer_secret", "plugin_key"}'}, status=400
        )
    try:
        shop = woocommerce_connect_manual(
            store_url=str(body.get("store_url", "")),
            consumer_key=str(body.get("consumer_key", "")).strip(),
            consumer_secret=str(body.get("consumer_secret", "")).strip(),
            plugin_key=str(body.get("plugin_key", "")),
        )
    except ValidationFailed as error:
        return JsonResponse({"error": error.message}, status=400)
    return JsonResponse({"connected": True, "shop": shop.domain})


@csrf_exempt  # WooCommerce posts the keys here; the one-time reference inside proves the request
@require_POST
def auth_callback(request: HttpRequest) -> HttpResponse:
    """WooCommerce keeps the key only if this answers exactly 200: anything else and it deletes
    the key, which is what should happen when Basketry cannot store it."""
    try:
        woocommerce_connect_callback(body=request.body)
    except ValidationFailed as error:
        return JsonResponse({"error": error.message}, status=400)
    return HttpResponse(status=200)


def plugin_signature(*, key: str, timestamp: str, method: str, path: str, body: bytes) -> str:
    message = f"{timestamp}\n{method.upper()}\n{path}\n".encode() + body
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()


class PluginSignatureAuthentication(BaseAuthentication):
    """The WordPress plugin signs each request with the key it chose when the store connected."""

    def authenticate(self, request):
        domain = request.META.get("HTTP_X_BASKETRY_SHOP", "").strip().lower()
        timestamp = request.META.get("HTTP_X_BASKETRY_TIMESTAMP", "")
        signature = request.META.get("HTTP_X_BASKETRY_SIGNATURE", "")
        if not (domain and timestamp and signature):
            return None
        if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > SIGNATURE_WINDOW_SECONDS:
            raise exceptions.AuthenticationFailed("stale or malformed X-Basketry-Timestamp")
        shop = Shop.objects.filter(
            platform=Shop.Platform.WOOCOMMERCE, domain=domain, status=Shop.Status.INSTALLED
        ).first()
        key = (shop.credentials or {}).get(CREDENTIALS_KEY, "") if shop else ""
        expected = plugin_signature(
            key=key or "-",
            timestamp=timestamp,
            method=request.method,
            path=request.get_full_path(),
            body=request.body,
        )
        if not key or not hmac.compare_digest(expected, signature):
            raise exceptions.AuthenticationFailed("invalid signature")
        return ShopPrincipal(shop=shop, user_id="plugin"), None

    def authenticate_header(self, request) -> str:
        return 'Basketry-Signature realm="plugin"'


PLUGIN_AUTH = [PluginSignatureAuthentication]


@api_view(["GET"])
@authentication_classes(PLUGIN_AUTH)
@permission_classes([IsAuthenticated])
def plugin_status(request: Request) -> Response:
    from shops.dashboard.selectors import shop_status_get

    shop = request.user.shop
    with shop_scope(shop):
        status = shop_status_get()
        sync, training = status.sync, status.training
        return Response(
            {
                "connected": bool(shop.credentials.get("consumer_key")),
                "paused": woocommerce_paused(shop),
                # Which WooCommerce key is in use, so the plugin can revoke the ones a reconnect replaced.
                "key_ending": key_ending(shop),
                "currency": shop.currency,
                "products": status.products,
                "orders": status.orders,
                "last_sync": None
                if sync is None
                else {"kind": sync.kind, "status": sync.status, "error": sync.error, "started_at": sync.started_at},
                "training": None if training is None else {"status": training.status},
            }
        )


def _customer_ref(request: Request) -> str:
    customer_id = str((request.data or {}).get("customer_id", "")).strip()
    if not customer_id.isdigit() or customer_id == "0":
        raise exceptions.ValidationError({"customer_id": "a WordPress user id"})
    return request.user.shop.customer_ref(customer_id)


@api_view(["POST"])
@authentication_classes(PLUGIN_AUTH)
@permission_classes([IsAuthenticated])
def plugin_privacy_export(request: Request) -> Response:
    """WordPress's personal data exporter, for one user: what Basketry holds under their pseudonym."""
    from integrations.services import privacy_data_request_fulfil

    shop = request.user.shop
    ref = _customer_ref(request)
    with shop_scope(shop):
        export = privacy_data_request_fulfil(shop=shop, customer_ref=ref).export
    items = [
        {
            "group": "Basketry: orders used for recommendations",
            "item_id": f"basketry-order-{order['order_id']}",
            "data": [
                {"name": "Order", "value": order["order_id"]},
                {"name": "Date", "value": order["created_at"]},
                {
                    "name": "Products",
                    "value": ", ".join(f"{line['quantity']} x {line['title']}" for line in order["lines"]),
                },
            ],
        }
        for order in export["orders"]
    ]
    return Response({"items": items, "held": export["held"]})


@api_view(["POST"])
@authentication_classes(PLUGIN_AUTH)
@permission_classes([IsAuthenticated])
def plugin_privacy_erase(request: Request) -> Response:
    """WordPress's personal data eraser: the user's orders stay only as anonymous baskets."""
    from integrations.services import privacy_redact_fulfil

    shop = request.user.shop
    ref = _customer_ref(request)
    with shop_scope(shop):
        removed = privacy_redact_fulfil(shop=shop, customer_ref=ref)
    return Response(
        {
            "removed": removed,
            "retained": 0,
            "messages": [f"{removed} orders no longer linked to this customer in Basketry."] if removed else [],
        }
    )


@api_view(["POST"])
@authentication_classes(PLUGIN_AUTH)
@permission_classes([IsAuthenticated])
def plugin_dashboard_link(request: Request) -> Response:
    """A two-minute link that opens the dashboard for this store in a new tab."""
    from shops.dashboard.access import dashboard_link_create

    return Response({"url": dashboard_link_create(shop_id=request.user.shop.pk)})


@api_view(["POST"])
@authentication_classes(PLUGIN_AUTH)
@permission_classes([IsAuthenticated])
def plugin_pause(request: Request) -> Response:
    """The plugin was deactivated: no deliveries processed, no calls to the store, keys and data kept."""
    changed = woocommerce_pause(shop=request.user.shop)
    return Response({"paused": True, "changed": changed})


@api_view(["POST"])
@authentication_classes(PLUGIN_AUTH)
@permission_classes([IsAuthenticated])
def plugin_resume(request: Request) -> Response:
    """The plugin was activated again: webhooks back on and a catch-up reconciliation queued."""
    changed = woocommerce_resume(shop=request.user.shop)
    return Response({"paused": False, "changed": changed})


@api_view(["POST"])
@authentication_classes(PLUGIN_AUTH)
@permission_classes([IsAuthenticated])
def plugin_uninstall(request: Request) -> Response:
    """The plugin is being deleted: the shop is disconnected at once and its data purged after the
    retention period. The answer names the key the plugin must revoke in WooCommerce."""
    return Response(woocommerce_disconnect(shop=request.user.shop))
