"""The embedded app's entry points: App Home, the ID-token patch page, the OAuth grant for
non-embedded installs, and the first admin API endpoint."""

from __future__ import annotations

import secrets
from urllib.parse import urlencode

from django.conf import settings
from django.core import signing
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.views.decorators.http import require_GET
from rest_framework.decorators import api_view, authentication_classes, permission_classes
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from integrations.shopify.auth import app_home_request_verify, query_hmac_valid, shop_domain_valid
from integrations.shopify.authentication import InvalidSession, ShopifyIdTokenAuthentication
from integrations.shopify.install import ShopifyAuthError, shopify_install_from_code, shopify_install_from_id_token
from shops.errors import ValidationFailed

STATE_COOKIE = "basketry_shopify_state"
STATE_MAX_AGE_SECONDS = 600


def _frame_ancestors(domain: str) -> str:
    return f"frame-ancestors https://{domain} https://admin.shopify.com;"


@require_GET
def app_home(request: HttpRequest) -> HttpResponse:
    """GET /shopify/app: what Shopify admin loads in its iframe (`?shop&host&id_token`)."""
    verification = app_home_request_verify(
        method="GET", url=request.build_absolute_uri(), headers={key: value for key, value in request.headers.items()}
    )
    if verification.id_token is None:
        response = HttpResponse(status=verification.status)
        for header, value in verification.headers.items():
            response[header] = value
        return response
    try:
        shop, installed = shopify_install_from_id_token(id_token=verification.id_token)
    except ShopifyAuthError:
        response = HttpResponse("Shopify refused the session; reload the app.", status=502, content_type="text/plain")
        response["Content-Security-Policy"] = _frame_ancestors(verification.id_token.domain)
        return response
    # The app home is the dashboard's Overview, embedded: every later page and form carries
    # Shopify's shop and host, and gets a fresh ID token from App Bridge (no cookie at all).
    from shops.dashboard.access import embedded_principal
    from shops.dashboard.views.overview import overview_render
    from shops.tenancy import shop_scope

    request.dashboard = embedded_principal(shop=shop, host=request.GET.get("host", ""))
    welcome = (
        "Connected. Your products and orders are being imported; recommendations appear once the "
        "first training finishes."
        if installed
        else ""
    )
    with shop_scope(shop):
        response = overview_render(request, shop, welcome=welcome)
    response.xframe_options_exempt = True
    for header, value in verification.headers.items():
        response[header] = value
    response["Content-Security-Policy"] = _frame_ancestors(shop.domain)
    return response


def theme_editor_links(domain: str) -> list[tuple[str, str]]:
    """Onboarding: each link opens the shop's theme editor with a Basketry block being added."""
    from integrations.shopify.theme import theme_editor_block_link, theme_editor_embed_link

    extension = settings.SHOPIFY_THEME_EXTENSION_ID
    if not extension:
        return []
    return [
        (
            "Turn on the Basketry app embed (loads the widget)",
            theme_editor_embed_link(shop_domain=domain, extension_id=extension),
        ),
        (
            "Add “Related products” to product pages",
            theme_editor_block_link(shop_domain=domain, extension_id=extension, block="related-products"),
        ),
        (
            "Add “Frequently bought together” to product pages",
            theme_editor_block_link(shop_domain=domain, extension_id=extension, block="bought-together"),
        ),
        (
            "Add recommendations to the cart page",
            theme_editor_block_link(
                shop_domain=domain, extension_id=extension, block="cart-recommendations", template="cart"
            ),
        ),
    ]


@require_GET
def patch_id_token(request: HttpRequest) -> HttpResponse:
    """App Bridge loads here when a document request had no (or a stale) ID token; it adds a fresh
    one and reloads `shopify-reload`."""
    from shopify_app import app_home_patch_id_token

    from integrations.shopify.auth import app_config

    result = app_home_patch_id_token(
        {"method": "GET", "headers": dict(request.headers), "url": request.build_absolute_uri(), "body": ""},
        app_config(),
    )
    response = HttpResponse(result.response.body, status=result.response.status)
    for header, value in result.response.headers.items():
        response[header] = value
    return response


@require_GET
def oauth_start(request: HttpRequest) -> HttpResponse:
    """GET /shopify/auth?shop&hmac&timestamp: the authorization-code grant for non-embedded installs."""
    params = request.GET.dict()
    domain = params.get("shop", "").lower()
    if not shop_domain_valid(domain) or not query_hmac_valid(params):
        return JsonResponse({"error": "invalid or unsigned install request"}, status=400)
    state = secrets.token_urlsafe(24)
    query = urlencode(
        {
            "client_id": settings.SHOPIFY_API_KEY,
            "scope": settings.SHOPIFY_SCOPES,
            "redirect_uri": f"{settings.APP_URL}/shopify/auth/callback",
            "state": state,
        }
    )
    response = HttpResponseRedirect(f"https://{domain}/admin/oauth/authorize?{query}")
    response.set_signed_cookie(
        STATE_COOKIE,
        f"{domain}|{state}",
        salt="shopify-oauth",
        max_age=STATE_MAX_AGE_SECONDS,
        secure=settings.APP_URL.startswith("https://"),
        httponly=True,
        samesite="Lax",
    )
    return response


@require_GET
def oauth_callback(request: HttpRequest) -> HttpResponse:
    params = request.GET.dict()
    domain = params.get("shop", "").lower()
    try:
        expected = request.get_signed_cookie(STATE_COOKIE, salt="shopify-oauth", max_age=STATE_MAX_AGE_SECONDS)
    except (KeyError, signing.BadSignature):
        expected = ""
    if (
        not shop_domain_valid(domain)
        or not params.get("code")
        or not expected
        or not secrets.compare_digest(expected, f"{domain}|{params.get('state', '')}")
        or not query_hmac_valid(params)
    ):
        return JsonResponse({"error": "invalid OAuth callback (state, signature or shop)"}, status=400)
    try:
        shopify_install_from_code(domain=domain, code=params["code"])
    except (ShopifyAuthError, ValidationFailed) as error:
        return JsonResponse({"error": str(error)}, status=502)
    response = HttpResponseRedirect(f"https://{domain}/admin/apps/{settings.SHOPIFY_API_KEY}")
    response.delete_cookie(STATE_COOKIE)
    return response


@api_view(["GET"])
@authentication_classes([ShopifyIdTokenAuthentication])
@permission_classes([IsAuthenticated])
def admin_status(request: Request) -> Response:
    """GET /api/admin/v1/status: the shop's connection, sync and training state."""
    from shops.dashboard.selectors import shop_status_get
    from shops.tenancy import shop_scope

    shop = request.user.shop
    with shop_scope(shop):
        status = shop_status_get()
        sync, training = status.sync, status.training
        body = {
            "shop": shop.domain,
            "status": shop.status,
            "products": status.products,
            "orders": status.orders,
            "sync": None
            if sync is None
            else {
                "kind": sync.kind,
                "status": sync.status,
                "products": sync.products_synced,
                "orders": sync.orders_synced,
            },
            "training": None if training is None else {"status": training.status},
        }
    return Response(body)


def _invalid_session_handler(exc, context):
    """401 with the header App Bridge retries on; DRF's default handler for everything else."""
    from rest_framework.views import exception_handler

    response = exception_handler(exc, context)
    if response is not None and isinstance(exc, InvalidSession):
        response["X-Shopify-Retry-Invalid-Session-Request"] = "1"
    return response
