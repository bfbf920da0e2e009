"""The public storefront API: GET recommendations and POST events. CORS, no shopper data."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import re
import time
from pathlib import Path
from urllib.parse import parse_qsl

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, HttpResponseNotModified
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from recommendations.models import Experiment
from recommendations.services.events import event_batch_record
from recommendations.services.experiments import experiment_assignment
from recommendations.storefront.cache import dumps
from recommendations.storefront.identity import (
    CREDENTIALS_KEY,
    CustomerTokenInvalid,
    customer_token_parse,
    customer_token_verify,
)
from recommendations.storefront.page_tokens import PageTokenInvalid, page_token_verify
from recommendations.storefront.rate_limits import events_rate_exceeded, page_token_rate_exceeded
from recommendations.storefront.service import (
    BEST_SELLERS,
    RenderedList,
    ShopState,
    StorefrontUnavailable,
    shop_state_get,
    storefront_list_get,
)
from shops.errors import ValidationFailed
from shops.models import Shop
from shops.tenancy import shop_scope

TYPES = ("related", "bought_together", "cart")
MAX_LIMIT = 24
MAX_CART_ITEMS = 50
# `beside=bought_together` (type=related only): the page also shows the product's
# bought-together block, whose products the related list then leaves out.
BESIDE = ("related", "bought_together")
BESIDE_ERROR = "beside: bought_together, for type=related on a page that also shows that block"
# Platform product ids: Shopify numbers, WooCommerce numbers, CSV stock codes. Printable, short.
_PRODUCT_ID = re.compile(r"^[A-Za-z0-9_.\-:/]{1,255}$")
_DOMAIN = re.compile(r"^[a-z0-9.\-]{1,253}(:[0-9]{1,5})?$")
# The random id the widget keeps for A/B tests, only with the shopper's consent to analytics.
_VISITOR = re.compile(r"^[A-Za-z0-9_-]{8,64}$")

# Any page may read the lists; what a preflight needs is only sent on preflights.
_CORS = {"Access-Control-Allow-Origin": "*"}
_PREFLIGHT = {"Access-Control-Allow-Methods": "GET, OPTIONS", "Access-Control-Max-Age": "86400"}


def _json(status: int, body: bytes) -> HttpResponse:
    response = HttpResponse(body, status=status, content_type="application/json")
    for header, value in _CORS.items():
        response[header] = value
    return response


def _preflight(methods: str = "GET, OPTIONS") -> HttpResponse:
    response = _json(204, b"")
    response["Access-Control-Allow-Methods"] = methods
    response["Access-Control-Max-Age"] = _PREFLIGHT["Access-Control-Max-Age"]
    return response


def _etag(body: bytes) -> str:
    return f'"{hashlib.blake2b(body, digest_size=12).hexdigest()}"'


def _shared_caching(request: HttpRequest, response: HttpResponse, kind: str, etag: str = "") -> HttpResponse:
    """Caching headers of a list answer. A personal list depends on who asked: never stored. Any
    other may be kept by browsers and CDNs but is revalidated on every use (`no-cache` with an
    ETag of the body), so a merchant's change shows on the next request and an unchanged list
    costs a 304 without a body."""
    if kind == "personal":
        response["Cache-Control"] = "private, no-store"
        return response
    if response.status_code != 200:
        return response
    etag = etag or _etag(response.content)
    response["ETag"] = etag
    response["Cache-Control"] = "public, no-cache"
    asked = {tag.strip().removeprefix("W/") for tag in request.META.get("HTTP_IF_NONE_MATCH", "").split(",")}
    if etag in asked or "*" in asked:
        unchanged = HttpResponseNotModified()
        for header in ("ETag", "Cache-Control", "Server-Timing", *_CORS):
            if header in response:
                unchanged[header] = response[header]
        return unchanged
    return response


# The parameters a list request has, with room for junk a page may add (e.g. tracking tags).
MAX_QUERY_FIELDS = 32


def _query(request: HttpRequest) -> dict[str, str] | None:
    """The query string as {name: last value}, or None when it has too many fields. Read straight
    from the environment: `request.GET` builds a multi-value dict per request, which costs as
    much as the rest of a cached answer."""
    try:
        return dict(
            parse_qsl(request.META.get("QUERY_STRING", ""), keep_blank_values=True, max_num_fields=MAX_QUERY_FIELDS)
        )
    except ValueError:
        return None


def _error(status: int, message: str) -> HttpResponse:
    return _json(status, dumps({"error": message}))


def _server_timing(response: HttpResponse, rendered: RenderedList, started: float) -> HttpResponse:
    """How long the list took and where it came from (this process, the shared cache or the
    database), for the browser's developer tools and the serving benchmark."""
    elapsed = (time.perf_counter() - started) * 1000
    response["Server-Timing"] = f'list;desc="{rendered.source}";dur={elapsed:.3f}'
    return response


@require_http_methods(["GET", "OPTIONS"])
def recommendations(request: HttpRequest) -> HttpResponse:
    started = time.perf_counter()
    if request.method == "OPTIONS":
        return _preflight()
    params = _query(request)
    if params is None:
        return _error(400, f"query: at most {MAX_QUERY_FIELDS} parameters")
    domain = params.get("shop", "").strip().lower()
    kind = params.get("type", "")
    product_id = params.get("product_id", "").strip()
    if not domain or not _DOMAIN.match(domain):
        return _error(400, "shop: the store's domain is required, e.g. my-store.myshopify.com")
    token = params.get("customer_token", "")
    if kind == "personal" and not token:
        return _error(400, "customer_token: personal lists need a customer token signed for this shop")
    if kind not in (*TYPES, "personal"):
        return _error(400, f"type: one of {', '.join(TYPES)}, or personal with a customer_token")
    if kind != "personal" and not _PRODUCT_ID.match(product_id):
        return _error(400, "product_id: a product id is required (letters, digits, - _ . : /, at most 255)")
    limit = _limit_parse(params)
    if limit == 0:
        return _error(400, f"limit: a whole number from 1 to {MAX_LIMIT}")
    cart: tuple[str, ...] = ()
    if kind == "cart":
        cart = tuple(value.strip() for value in params.get("cart", "").split(",") if value.strip())
        if len(cart) > MAX_CART_ITEMS or not all(_PRODUCT_ID.match(value) for value in cart):
            return _error(400, f"cart: up to {MAX_CART_ITEMS} comma-separated product ids")
    elif "cart" in params:
        return _error(400, "cart: only for type=cart")
    visitor = params.get("visitor", "")
    if visitor and not _VISITOR.match(visitor):
        return _error(400, "visitor: the widget's random visitor id (8 to 64 letters, digits, - or _)")
    beside = params.get("beside", "")
    if beside and (kind, beside) != BESIDE:
        return _error(400, BESIDE_ERROR)

    try:
        state = shop_state_get(domain=domain)
        if state is None:
            return _error(404, "unknown shop")
        block = state.block_settings(kind)
        experiment = None
        if not block["enabled"]:
            rendered = NOTHING_SHOWN
        elif kind == "personal":
            customer_ref = _customer_ref_from_token(state.shop_id, domain=domain, token=token)
            if customer_ref is None:
                return _error(401, "customer_token: not a valid token for this shop (or expired)")
            rendered = storefront_list_get(
                state=state, kind=kind, product_id="", cart=(), customer_ref=customer_ref, limit=limit or block["items"]
            )
        elif beside:
            rendered, experiment = _related_beside_bought_together(
                state, product_id=product_id, visitor=visitor, limit=limit or block["items"]
            )
        else:
            rendered, experiment = _block_list(
                state, kind=kind, product_id=product_id, cart=cart, visitor=visitor, limit=limit or block["items"]
            )
    except (StorefrontUnavailable, DatabaseError):
        return _error(503, "recommendations are unavailable right now")
    response, etag = _render_response(kind, rendered, limit or block["items"], state.block_json(kind), experiment)
    return _shared_caching(request, _server_timing(response, rendered, started), kind, etag)


def _customer_ref_from_token(shop_id: int, *, domain: str, token: str) -> str | None:
    """The shop's pseudonym for the customer a plugin-signed token vouches for, or None."""
    try:
        customer_token_parse(token)
    except CustomerTokenInvalid:
        return None
    shop = Shop.objects.get(pk=shop_id)
    try:
        customer_id = customer_token_verify(key=shop.credentials.get(CREDENTIALS_KEY, ""), domain=domain, token=token)
    except CustomerTokenInvalid:
        return None
    return shop.customer_ref(customer_id)


MAX_EVENT_BODY_BYTES = 16 * 1024


@csrf_exempt  # a public, cross-origin beacon: no session, no cookie; the page token is the proof
@require_http_methods(["POST", "OPTIONS"])
def events(request: HttpRequest) -> HttpResponse:
    """Widget events for stores that render their own pages (WooCommerce, the demo storefront):
    each batch carries the page token the store signed into the page. Shopify stores' events go
    through the App Proxy, which Shopify signs; this endpoint refuses them."""
    if request.method == "OPTIONS":
        response = _preflight("POST, OPTIONS")
        response["Access-Control-Allow-Headers"] = "Content-Type"
        return response
    payload, problem = _events_parse(request)
    if problem is not None:
        return problem
    domain = str(payload.get("shop", "")).strip().lower()
    if not _DOMAIN.match(domain):
        return _error(400, "shop: the store's domain is required")
    return _events_store(request, domain=domain, events=payload.get("events"), page_token=payload.get("page_token"))


def _events_parse(request: HttpRequest) -> tuple[dict | None, HttpResponse | None]:
    if int(request.META.get("CONTENT_LENGTH") or 0) > MAX_EVENT_BODY_BYTES or len(request.body) > MAX_EVENT_BODY_BYTES:
        return None, _error(413, f"body: at most {MAX_EVENT_BODY_BYTES} bytes")
    try:
        payload = json.loads(request.body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        payload = None
    if not isinstance(payload, dict):
        return None, _error(400, 'body: JSON {"shop": ..., "page_token": ..., "events": [...]}')
    return payload, None


def _events_store(
    request: HttpRequest, *, domain: str, events, page_token: object = None, via_app_proxy: bool = False
) -> HttpResponse:
    """Store a batch for the shop `domain`. Through the App Proxy Shopify has vouched for the
    shop; otherwise the page token must be one this shop's key signed, and Shopify shops are
    sent to their App Proxy."""
    try:
        state = shop_state_get(domain=domain)
    except StorefrontUnavailable:
        return _error(503, "events are unavailable right now")
    if state is None:
        return _error(404, "unknown shop")
    # Counted before the token is checked, so that trying tokens is rate limited too.
    if events_rate_exceeded(shop_id=state.shop_id, request=request, via_app_proxy=via_app_proxy):
        return _error(429, "too many event batches: slow down")
    if not via_app_proxy:
        try:
            shop = Shop.objects.only("platform", "domain", "credentials").get(pk=state.shop_id)
        except (Shop.DoesNotExist, DatabaseError):
            return _error(503, "events are unavailable right now")
        if shop.platform == Shop.Platform.SHOPIFY:
            return _error(
                403,
                f"events of a Shopify store go through its App Proxy: POST https://{domain}/apps/basketry/events",
            )
        try:
            nonce = page_token_verify(key=shop.credentials.get(CREDENTIALS_KEY, ""), domain=domain, token=page_token)
        except PageTokenInvalid:
            return _error(401, "page_token: not a valid page token for this shop (or expired); reload the page")
        if page_token_rate_exceeded(shop_id=state.shop_id, nonce=nonce):
            return _error(429, "too many event batches from this page: slow down")
    try:
        with shop_scope(state.shop_id):
            stored = event_batch_record(shop=Shop(pk=state.shop_id), events=events)
    except ValidationFailed as error:
        return _error(400, error.message)
    except DatabaseError:
        return _error(503, "events are unavailable right now")
    return _json(202, dumps({"stored": stored}))


# What a block the merchant turned off answers: nothing to show, and no list is built for it.
NOTHING_SHOWN = RenderedList(fallback=False, items=())


def _limit_parse(params) -> int | None:
    """The `limit` asked for; None when absent (the block's item count applies); 0 when invalid."""
    if "limit" not in params:
        return None
    try:
        limit = int(params["limit"])
    except ValueError:
        return 0
    return limit if 1 <= limit <= MAX_LIMIT else 0


def _render_response(
    kind: str, rendered: RenderedList, limit: int, block_json: bytes, experiment: dict | None = None
) -> tuple[HttpResponse, str]:
    """The list's answer and its ETag; `block_json` is `ShopState.block_json(kind)`."""
    head = b'{"type":"%s","fallback":%s,"items":[' % (kind.encode(), b"true" if rendered.fallback else b"false")
    tail = b'],"block":' + block_json
    if experiment is not None:
        tail += b',"experiment":' + dumps(experiment)
    body = head + b",".join(rendered.items[:limit]) + tail + b"}"
    return _json(200, body), _etag(body)


def _block_list(
    state: ShopState, *, kind: str, product_id: str, cart: tuple[str, ...], visitor: str, limit: int
) -> tuple[RenderedList, dict | None]:
    """A product or cart block's list and, for a visitor in an A/B test of the block, the arm
    they are in ({"id", "arm"}): the model's list, the best sellers under the shop's rules, or
    nothing. Visitors without an id (no analytics consent) see the model and are not counted."""
    assignment = (
        experiment_assignment(running=state.experiments, block=kind, visitor=visitor, now=time.time())
        if visitor and state.experiments
        else None
    )
    if assignment is None:
        return storefront_list_get(state=state, kind=kind, product_id=product_id, cart=cart, limit=limit), None
    experiment = {"id": assignment.experiment_id, "arm": assignment.arm}
    if assignment.strategy == Experiment.Strategy.NONE:
        return NOTHING_SHOWN, experiment
    strategy = BEST_SELLERS if assignment.strategy == Experiment.Strategy.POPULAR else ""
    rendered = storefront_list_get(
        state=state, kind=kind, product_id=product_id, cart=cart, strategy=strategy, limit=limit
    )
    return rendered, experiment


def _related_beside_bought_together(
    state: ShopState, *, product_id: str, visitor: str, limit: int
) -> tuple[RenderedList, dict | None]:
    """The related list of a page that also shows the product's bought-together block: without
    the products that block shows this visitor (as it would answer them), filled from further
    down the related list, so that no product appears in both."""
    taken: set[str] = set()
    together = state.block_settings("bought_together")
    if together["enabled"]:
        shown, _ = _block_list(
            state, kind="bought_together", product_id=product_id, cart=(), visitor=visitor, limit=together["items"]
        )
        taken = {json.loads(item)["product_id"] for item in shown.items[: together["items"]]}
    rendered, experiment = _block_list(
        state, kind="related", product_id=product_id, cart=(), visitor=visitor, limit=limit + len(taken)
    )
    if not taken:
        return rendered, experiment
    kept = tuple(item for item in rendered.items if json.loads(item)["product_id"] not in taken)
    return dataclasses.replace(rendered, items=kept[:limit]), experiment


def _proxy_verified(request: HttpRequest):
    """The shop domain and logged-in customer Shopify signed this App Proxy request for, or None."""
    from shopify_app.verify.app_proxy import verify_app_proxy_req

    if not settings.SHOPIFY_API_SECRET:
        return None
    verified = verify_app_proxy_req(
        {"method": "GET", "headers": {}, "url": request.build_absolute_uri(), "body": ""},
        {"client_secret": settings.SHOPIFY_API_SECRET, "old_client_secret": settings.SHOPIFY_API_SECRET_OLD or None},
    )
    if not verified.ok:
        return None
    # The verifier gives the store's handle (the shop parameter without ".myshopify.com").
    return f"{verified.shop}.myshopify.com", str(verified.logged_in_customer_id or "")


@require_http_methods(["GET"])
def app_proxy_recommendations(request: HttpRequest) -> HttpResponse:
    """Shopify App Proxy: `https://{shop}/apps/basketry/recommendations` arrives here signed by
    Shopify. The shop and the logged-in customer come only from the verified query, so a personal
    list is served for the customer Shopify vouches for, never for an id someone typed.

    JSON for the widget; `format=html` gives the same list as an HTML fragment for themes that
    render it server-side.
    """
    started = time.perf_counter()
    verified = _proxy_verified(request)
    if verified is None:
        return _error(401, "unverified app proxy request")
    domain, customer_id = verified
    kind = request.GET.get("type", "personal")
    if kind not in (*TYPES, "personal"):
        return _error(400, f"type: one of {', '.join((*TYPES, 'personal'))}")
    output = request.GET.get("format", "json")
    if output not in ("json", "html"):
        return _error(400, "format: json or html")
    limit = _limit_parse(request.GET)
    if limit == 0:
        return _error(400, f"limit: a whole number from 1 to {MAX_LIMIT}")
    product_id = request.GET.get("product_id", "").strip()
    if kind != "personal" and not _PRODUCT_ID.match(product_id):
        return _error(400, "product_id: a product id is required")
    cart: tuple[str, ...] = ()
    if kind == "cart":
        cart = tuple(value.strip() for value in request.GET.get("cart", "").split(",") if value.strip())
        if len(cart) > MAX_CART_ITEMS or not all(_PRODUCT_ID.match(value) for value in cart):
            return _error(400, f"cart: up to {MAX_CART_ITEMS} comma-separated product ids")
    visitor = request.GET.get("visitor", "")
    if visitor and not _VISITOR.match(visitor):
        return _error(400, "visitor: the widget's random visitor id (8 to 64 letters, digits, - or _)")
    beside = request.GET.get("beside", "")
    if beside and (kind, beside) != BESIDE:
        return _error(400, BESIDE_ERROR)
    try:
        state = shop_state_get(domain=domain)
        if state is None:
            return _error(404, "unknown shop")
        block = state.block_settings(kind)
        limit = limit or block["items"]
        experiment = None
        if not block["enabled"]:
            rendered = NOTHING_SHOWN
        elif kind == "personal":
            customer_ref = Shop.objects.get(pk=state.shop_id).customer_ref(customer_id) if customer_id else ""
            rendered = storefront_list_get(
                state=state, kind=kind, product_id="", cart=(), customer_ref=customer_ref, limit=limit
            )
        elif beside:
            rendered, experiment = _related_beside_bought_together(
                state, product_id=product_id, visitor=visitor, limit=limit
            )
        else:
            rendered, experiment = _block_list(
                state, kind=kind, product_id=product_id, cart=cart, visitor=visitor, limit=limit
            )
    except (StorefrontUnavailable, DatabaseError):
        return _error(503, "recommendations are unavailable right now")
    if output == "html":
        response = render(
            request,
            "storefront/fragment.html",
            {
                "kind": kind,
                "block": block,
                "title": block["title"],
                "fallback": rendered.fallback,
                "items": [json.loads(item) for item in rendered.items[:limit]],
            },
        )
    else:
        response, _ = _render_response(kind, rendered, limit, state.block_json(kind), experiment)
    # Personal answers depend on who is logged in: no shared caches.
    return _shared_caching(request, _server_timing(response, rendered, started), kind)


@csrf_exempt  # signed by Shopify in the query string; no session or cookie is involved
@require_http_methods(["POST"])
def app_proxy_events(request: HttpRequest) -> HttpResponse:
    """The widget's events through the App Proxy: the shop comes from Shopify's signature."""
    verified = _proxy_verified(request)
    if verified is None:
        return _error(401, "unverified app proxy request")
    payload, problem = _events_parse(request)
    if problem is not None:
        return problem
    return _events_store(request, domain=verified[0], events=payload.get("events"), via_app_proxy=True)


@require_http_methods(["GET"])
def app_proxy_widget(request: HttpRequest) -> HttpResponse:
    """The widget script on the store's own origin (`/apps/basketry/widget.js`): the same public
    file as /static/basketry/widget.js, so no signature is needed to read it."""
    response = HttpResponse(_widget_source(), content_type="application/javascript; charset=utf-8")
    response["Cache-Control"] = "public, max-age=300"
    return response


@functools.cache
def _widget_source() -> bytes:
    from django.contrib.staticfiles import finders

    return Path(finders.find("basketry/widget.js")).read_bytes()
