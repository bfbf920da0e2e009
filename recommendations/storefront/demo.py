"""A demo storefront served by the app in demo mode: a product page and a cart page that embed
the widget exactly as a store's theme would. Off unless DEMO_STOREFRONT is on (`make demo`)."""

from __future__ import annotations

import json
import time

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from recommendations.storefront.page_tokens import PAGE_TOKEN_LIFETIME_SECONDS, page_token_sign
from shops.demo import DEMO_DOMAIN
from shops.models import SELLABLE, Product, Shop
from shops.services.shops import shop_storefront_token_key_get
from shops.tenancy import shop_scope

CART_SESSION_KEY = "basketry_demo_cart"
MAX_CART_LINES = 50


def _shop(domain: str) -> Shop:
    if not settings.DEMO_STOREFRONT:
        raise Http404("The demo storefront is off.")
    shop = Shop.objects.filter(domain=domain, status=Shop.Status.INSTALLED).order_by("pk").first()
    if shop is None:
        raise Http404("Unknown shop.")
    return shop


def _page_token(shop: Shop) -> str:
    """The token the widget's events need, signed here exactly as the WordPress plugin signs it
    for each page it renders: the demo shop is a CSV shop, which Shopify does not vouch for."""
    expires = int(time.time()) + PAGE_TOKEN_LIFETIME_SECONDS
    return page_token_sign(key=shop_storefront_token_key_get(shop=shop), domain=shop.domain, expires=expires)


def _cart(request: HttpRequest, shop: Shop) -> list[dict]:
    return request.session.get(CART_SESSION_KEY, {}).get(str(shop.pk), [])


# `?platform=woocommerce` renders the blocks as the WordPress plugin embeds them (add to cart through
# WooCommerce's `?add-to-cart=` handler, which `store_home` stands in for).
PLATFORMS = ("shopify", "woocommerce")


@require_GET
def product_page(request: HttpRequest, domain: str, product_id: str) -> HttpResponse:
    shop = _shop(domain)
    platform = request.GET.get("platform", "shopify")
    if platform not in PLATFORMS:
        raise Http404("Unknown platform.")
    with shop_scope(shop):
        product = Product.objects.filter(external_id=product_id).first()
        if product is None:
            raise Http404("Unknown product.")
        others = list(Product.objects.filter(SELLABLE).order_by("pk")[:12])
    return render(
        request,
        "demo/product.html",
        {
            "shop": shop,
            "product": product,
            "others": others,
            "cart_count": len(_cart(request, shop)),
            "platform": platform,
            "page_token": _page_token(shop),
        },
    )


@require_GET
def cart_page(request: HttpRequest, domain: str) -> HttpResponse:
    shop = _shop(domain)
    lines = _cart(request, shop)
    with shop_scope(shop):
        products = {p.external_id: p for p in Product.objects.filter(external_id__in=[line["id"] for line in lines])}
    items = [
        {"product": products[line["id"]], "source": line.get("source", "")} for line in lines if line["id"] in products
    ]
    cart_ids = [item["product"].external_id for item in items]
    return render(
        request,
        "demo/cart.html",
        {
            "shop": shop,
            "items": items,
            "first": cart_ids[0] if cart_ids else "",
            "rest": ",".join(cart_ids[1:]),
            "page_token": _page_token(shop),
        },
    )


# The demo stands in for a platform's cart endpoint (Shopify's /cart/add.js takes the same JSON
# without a CSRF token); it only writes to the visitor's own session.
@csrf_exempt
@require_POST
def cart_add(request: HttpRequest, domain: str) -> JsonResponse:
    shop = _shop(domain)
    try:
        body = json.loads(request.body)
        items = body["items"]
        ids = [str(item["id"]) for item in items]
        sources = [str(item.get("properties", {}).get("_basketry", "")) for item in items]
    except (ValueError, KeyError, TypeError, AttributeError):
        return JsonResponse({"error": 'expected {"items": [{"id": ..., "quantity": 1}]}'}, status=400)
    if not _cart_append(request, shop, ids=ids, sources=sources):
        return JsonResponse({"error": "unknown product"}, status=400)
    return JsonResponse({"items": [{"id": pk} for pk in ids]})


CART_ATTRIBUTES_SESSION_KEY = "basketry_demo_cart_attributes"


# Shopify's /cart/update.js stand-in: the widget sets the A/B test mark as a cart attribute.
@csrf_exempt
@require_POST
def cart_update(request: HttpRequest, domain: str) -> JsonResponse:
    shop = _shop(domain)
    try:
        attributes = json.loads(request.body)["attributes"]
        if not isinstance(attributes, dict) or not all(isinstance(v, str) for v in attributes.values()):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        return JsonResponse({"error": 'expected {"attributes": {"key": "value"}}'}, status=400)
    stored = request.session.get(CART_ATTRIBUTES_SESSION_KEY, {})
    stored[str(shop.pk)] = {**stored.get(str(shop.pk), {}), **attributes}
    request.session[CART_ATTRIBUTES_SESSION_KEY] = stored
    return JsonResponse({"attributes": stored[str(shop.pk)]})


def _cart_append(request: HttpRequest, shop: Shop, *, ids: list[str], sources: list[str]) -> bool:
    """Add the products to the visitor's cart; False (nothing added) if one is unknown."""
    with shop_scope(shop):
        known = set(Product.objects.filter(external_id__in=ids).values_list("external_id", flat=True))
    if not ids or set(ids) - known:
        return False
    carts = request.session.get(CART_SESSION_KEY, {})
    lines = carts.get(str(shop.pk), [])
    lines += [{"id": pk, "source": source} for pk, source in zip(ids, sources, strict=True)]
    carts[str(shop.pk)] = lines[-MAX_CART_LINES:]
    request.session[CART_SESSION_KEY] = carts
    return True


@require_GET
def store_home(request: HttpRequest, domain: str) -> HttpResponse:
    """The store's front page. Like WooCommerce, it adds `?add-to-cart=ID` (with the widget's
    `basketry` mark) to the visitor's cart, then shows the cart."""
    shop = _shop(domain)
    product_id = request.GET.get("add-to-cart")
    if product_id is not None:
        source = request.GET.get("basketry", "")[:32]
        quantity = request.GET.get("quantity", "1")
        if not quantity.isdigit() or not 1 <= int(quantity) <= 10:
            return HttpResponse("Bad quantity.", status=400, content_type="text/plain")
        if not _cart_append(request, shop, ids=[product_id] * int(quantity), sources=[source] * int(quantity)):
            return HttpResponse("Unknown product.", status=400, content_type="text/plain")
    return redirect("demo-cart", domain=shop.domain)


@require_GET
def product_by_handle(request: HttpRequest, handle: str) -> HttpResponse:
    """Product cards link to `/products/<handle>` as on a real store; in the demo that path leads
    to the demo shop's product page."""
    shop = _shop(DEMO_DOMAIN)
    with shop_scope(shop):
        product = Product.objects.filter(handle=handle).first()
    if product is None:
        raise Http404("Unknown product.")
    return redirect("demo-product", domain=shop.domain, product_id=product.external_id)
