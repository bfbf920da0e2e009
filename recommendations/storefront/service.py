"""Storefront reads: shop state and rendered lists, from the caches when they answer."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field

from django.db import DatabaseError

from recommendations.models import ModelVersion
from recommendations.selectors import merchant_rules_active, model_version_live, product_facts_all
from recommendations.services.experiments import experiments_for_storefront
from recommendations.services.serving import (
    popular_fallback,
    recommendations_for_cart,
    recommendations_for_customer,
    recommendations_for_product,
)
from recommendations.services.widgets import WIDGETS_KEY, widget_defaults, widget_settings_from
from recommendations.storefront import cache as caches
from shops.cache_guard import CacheUnavailable
from shops.models import Product, Shop
from shops.plans import shop_plan_get
from shops.tenancy import shop_scope

logger = logging.getLogger("basketry.storefront")

# Items rendered per list; a request's `limit` takes the first ones.
RENDERED_ITEMS = 24
# The experiments' arm that shows the shop's best sellers under its rules instead of the model.
BEST_SELLERS = "popular"


class StorefrontUnavailable(Exception):
    """Neither the cache nor the database can answer: the view fails fast with 503."""


@dataclass(frozen=True)
class ShopState:
    shop_id: int
    currency: str
    version_id: int | None
    generation: str
    # The merchant's widget settings per block, read with the shop so a cache hit needs no query.
    # States cached before the settings existed have none: the defaults apply.
    widgets: dict = field(default_factory=dict)
    # Scheduled and running A/B tests (recommendations.services.experiments), for assignment;
    # only as many as the shop's plan allows (shops/plans.py).
    experiments: list = field(default_factory=list)
    # Whether the shop's plan includes personal lists; without, logged-in shoppers get the
    # anonymous (popular) list. States cached before plans existed allow them.
    personal: bool = True

    def block_settings(self, kind: str) -> dict:
        return self.widgets.get(kind) or widget_defaults(block=kind)


@dataclass(frozen=True)
class RenderedList:
    fallback: bool
    items: tuple[bytes, ...]  # each item's JSON, ready to join


def _cache_get(key: str):
    try:
        return caches.redis_get(key), True
    except CacheUnavailable:
        # The breaker is open and logged once when it opened; nothing was asked.
        return None, False
    except Exception:
        logger.warning("storefront.cache_down key=%s", key.split(":")[0])
        return None, False


def _cache_set(key: str, value, seconds: int) -> None:
    try:
        caches.redis_set(key, value, seconds)
    except CacheUnavailable:
        pass
    except Exception:
        logger.warning("storefront.cache_down while writing")


def shop_state_get(*, domain: str) -> ShopState | None:
    """The installed shop with this domain and its live version, or None if there is none."""
    key = caches.state_key(domain)
    cached = caches.local_states.get(key)
    if cached is not None:
        return ShopState(**cached) if cached.get("shop_id") else None
    cached, cache_answers = _cache_get(key)
    if cached is not None:
        caches.local_states.set(key, cached)
        return ShopState(**cached) if cached.get("shop_id") else None
    try:
        shop = Shop.objects.filter(domain=domain, status=Shop.Status.INSTALLED).order_by("pk").first()
        if shop is None:
            state = None
        else:
            plan = shop_plan_get(shop=shop)
            with shop_scope(shop):
                version = model_version_live()
                experiments = experiments_for_storefront() if plan.experiments != 0 else []
            if plan.experiments is not None:
                experiments = experiments[: plan.experiments]
            version_id = version.pk if version else None
            state = ShopState(
                shop.pk,
                shop.currency,
                version_id,
                caches.new_generation(version_id),
                widget_settings_from(stored=shop.settings.get(WIDGETS_KEY)),
                experiments,
                plan.personal,
            )
    except DatabaseError as error:
        raise StorefrontUnavailable("database unavailable") from error
    # Unknown domains are remembered too, so that junk requests do not each reach the database,
    # and the state is kept in this process even while Redis is down: degraded mode then costs
    # one state read per process every LOCAL_STATE_SECONDS, not one per request.
    document = asdict(state) if state else {"shop_id": None}
    if cache_answers:
        _cache_set(key, document, caches.STATE_SECONDS if state else caches.UNKNOWN_STATE_SECONDS)
    caches.local_states.set(key, document)
    return state


def _render(
    state: ShopState, *, kind: str, product_id: str, cart: tuple[str, ...], customer_ref: str = "", strategy: str = ""
) -> RenderedList:
    with shop_scope(state.shop_id):
        version = ModelVersion.objects.filter(pk=state.version_id).first() if state.version_id else None
        facts = product_facts_all()
        rules = merchant_rules_active()
        wanted = {product_id, *cart}
        pk_of = dict(Product.objects.filter(external_id__in=wanted).values_list("external_id", "pk"))
        fallback = False
        basket = [pk_of[external] for external in (product_id, *cart) if external in pk_of] if kind == "cart" else []
        if version is None:
            items, fallback = [], True
        elif strategy == BEST_SELLERS:
            items = popular_fallback(
                version=version,
                limit=RENDERED_ITEMS,
                facts=facts,
                rules=rules,
                list_kind=kind,
                anchor_pk=pk_of.get(product_id),
                cart_pks=basket,
            )
        elif kind == "personal":
            if customer_ref:
                items = recommendations_for_customer(
                    version=version, customer_ref=customer_ref, limit=RENDERED_ITEMS, facts=facts, rules=rules
                )
            if not customer_ref or not items:
                items, fallback = (
                    popular_fallback(version=version, limit=RENDERED_ITEMS, facts=facts, rules=rules),
                    True,
                )
        elif kind == "cart":
            items = recommendations_for_cart(
                version=version, product_pks=basket, limit=RENDERED_ITEMS, facts=facts, rules=rules
            )
            if not items:
                items, fallback = (
                    popular_fallback(version=version, limit=RENDERED_ITEMS, facts=facts, rules=rules),
                    True,
                )
        elif product_id in pk_of:
            items = recommendations_for_product(
                version=version,
                product_pk=pk_of[product_id],
                kind=kind,
                limit=RENDERED_ITEMS,
                facts=facts,
                rules=rules,
            )
        else:
            items, fallback = popular_fallback(version=version, limit=RENDERED_ITEMS, facts=facts, rules=rules), True
        cards = {
            row["pk"]: row
            for row in Product.objects.filter(pk__in=[item["product_id"] for item in items]).values(
                "pk", "external_id", "title", "url", "image_url", "price", "currency"
            )
        }
    rendered = []
    for item in items:
        card = cards.get(item["product_id"])
        if card is None:
            continue
        rendered.append(
            caches.dumps(
                {
                    "product_id": card["external_id"],
                    "title": card["title"],
                    "url": card["url"],
                    "image_url": card["image_url"],
                    "price": f"{card['price']:.2f}",
                    "currency": card["currency"] or state.currency,
                    "explanation": item["explanation"],
                }
            )
        )
    return RenderedList(fallback=fallback, items=tuple(rendered))


def _list_anchor(*, kind: str, product_id: str, cart: tuple[str, ...], customer_ref: str) -> str:
    if kind == "personal":
        return customer_ref or "-"
    return product_id if kind != "cart" else ",".join((product_id, *sorted(set(cart))))


def _known_anchor(state: ShopState, *, kind: str, product_id: str, cart: tuple[str, ...]) -> str:
    """The anchor with the ids the catalogue does not have left out: what the list depends on."""
    wanted = (product_id, *sorted(set(cart))) if kind == "cart" else (product_id,)
    with shop_scope(state.shop_id):
        known = set(Product.objects.filter(external_id__in=set(wanted)).values_list("external_id", flat=True))
    return ",".join(external for external in wanted if external in known) or caches.UNKNOWN_ANCHOR


def storefront_list_get(
    *, state: ShopState, kind: str, product_id: str, cart: tuple[str, ...], customer_ref: str = "", strategy: str = ""
) -> RenderedList:
    """The rendered list: in-process cache, then Redis, then built from the database.

    `customer_ref` (personal lists) must come from a platform-signed identity, never a raw id.
    `strategy` BEST_SELLERS renders an A/B test's arm without the model.
    """
    if kind == "personal" and not state.personal:
        customer_ref = ""  # the plan leaves personal lists out: the anonymous list, never an error
    cached_kind = f"{kind}~{strategy}" if strategy else kind
    anchor = _list_anchor(kind=kind, product_id=product_id, cart=cart, customer_ref=customer_ref)
    key = caches.list_key(shop_id=state.shop_id, generation=state.generation, kind=cached_kind, anchor=anchor)
    found = caches.local.get(key)
    if found is not None:
        return found
    found, cache_answers = _cache_get(key)
    try:
        if found is None and kind != "personal":
            # A miss may be a product id the shop does not have (a stale page, a scraper): such
            # lists are cached under the ids that exist, never one entry per unknown id.
            known = _known_anchor(state, kind=kind, product_id=product_id, cart=cart)
            if known != anchor:
                key = caches.list_key(
                    shop_id=state.shop_id, generation=state.generation, kind=cached_kind, anchor=known
                )
                found = caches.local.get(key)
                if found is None and cache_answers:
                    found, cache_answers = _cache_get(key)
        if found is None:
            found = _render(
                state, kind=kind, product_id=product_id, cart=cart, customer_ref=customer_ref, strategy=strategy
            )
            if cache_answers:
                _cache_set(key, found, caches.LIST_SECONDS)
    except DatabaseError as error:
        raise StorefrontUnavailable("database unavailable") from error
    caches.local.set(key, found)
    return found
