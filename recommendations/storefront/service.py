"""Storefront reads: the shop's state and its lists as shown, from the caches when they answer.

A list is served from what is stored for the live version (immutable, cached per version) with
the merchant's current rules and each listed product's current facts applied on every read, so
no catalogue, rule or settings change ever needs a list to be rebuilt, and a read costs the
list's own length whatever the size of the catalogue.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import logging
import time
from dataclasses import asdict, dataclass, field
from functools import cached_property

from django.db import DatabaseError, connection
from django.utils import timezone

from recommendations.models import ListKind, MerchantRule, RecommendationList
from recommendations.rules import Rule, rule_names_products, rules_apply, target_matches
from recommendations.selectors import customer_product_ids, model_version_live
from recommendations.services.experiments import experiments_for_storefront
from recommendations.services.serving import cart_list_served
from recommendations.services.widgets import WIDGETS_KEY, widget_defaults, widget_settings_from
from recommendations.storefront import cache as caches
from recommendations.storefront import packs
from recommendations.storefront.facts import (
    ServingFact,
    facts_get,
    facts_held,
    facts_mark,
    facts_unchanged_since,
    serving_facts_changed,
)
from recommendations.storefront.facts import local_memory_clear as local_facts_clear
from shops.models import SELLABLE, Product, Shop
from shops.plans import shop_plan_get
from shops.tenancy import shop_scope

logger = logging.getLogger("basketry.storefront")

# Items rendered per list; a request's `limit` takes the first ones.
RENDERED_ITEMS = 24
# Items of a stored list serving keeps: enough that rules and stock leave RENDERED_ITEMS.
LIST_ITEMS = 60
# The experiments' arm that shows the shop's best sellers under its rules instead of the model.
BEST_SELLERS = "popular"
# Lists whose anchor is a product id; the others are anchored on a customer ref or "".
PRODUCT_LISTS = (ListKind.RELATED, ListKind.BOUGHT_TOGETHER)
# Products an if-then rule's category, tag or vendor target keeps beyond its item budget, for the
# ones a list leaves out (the product viewed, the cart, excluded products).
TARGET_SPARE = 24
_SOURCES = ("local", "shared", "database")
# The widget settings an answer carries to draw its block (the item count is already applied).
BLOCK_DOCUMENT_FIELDS = ("enabled", "title", "layout", "accent", "text")


class StorefrontUnavailable(Exception):
    """Neither the cache nor the database can answer: the view fails fast with 503."""


@dataclass(frozen=True)
class ShopState:
    shop_id: int
    currency: str
    version_id: int | None
    # The merchant's widget settings per block, read with the shop so a cache hit needs no query.
    widgets: dict = field(default_factory=dict)
    # Scheduled and running A/B tests (recommendations.services.experiments), for assignment;
    # only as many as the shop's plan allows (shops/plans.py).
    experiments: list = field(default_factory=list)
    # Whether the shop's plan includes personal lists; without, logged-in shoppers get the
    # anonymous (popular) list.
    personal: bool = True
    # The enabled merchant rules in order, as documents (`_rule_document`); an if-then rule
    # that brings in a category, tag or vendor carries the products it may bring in.
    rules: list = field(default_factory=list)

    def block_settings(self, kind: str) -> dict:
        return self.widgets.get(kind) or widget_defaults(block=kind)

    def block_json(self, kind: str) -> bytes:
        """How the widget should draw the block, as the answer's "block" member: encoded once per
        state, not per request."""
        encoded = self._block_json.get(kind)
        if encoded is None:
            block = self.block_settings(kind)
            encoded = self._block_json[kind] = caches.dumps({key: block[key] for key in BLOCK_DOCUMENT_FIELDS})
        return encoded

    @cached_property
    def _block_json(self) -> dict[str, bytes]:
        return {}

    @cached_property
    def engine_rules(self) -> list[Rule]:
        return [
            Rule(
                kind=rule["kind"],
                params=rule["params"],
                list_kinds=frozenset(rule["list_kinds"]),
                name=rule["name"],
                targets=tuple(rule["targets"]) if rule["targets"] is not None else None,
            )
            for rule in self.rules
        ]

    @cached_property
    def render_stamp(self) -> str:
        """What every list of the shop depends on besides its products: the version, the
        currency, the rules (and the day, for rules with dates)."""
        document = json.dumps([self.version_id, self.currency, self.rules], sort_keys=True, default=str)
        return f"{timezone.now().date()}:{hashlib.blake2b(document.encode(), digest_size=12).hexdigest()}"

    def for_version(self, version_id: int) -> ShopState:
        """The same shop served from another of its versions."""
        return dataclasses.replace(self, version_id=version_id)

    def ruled(self, kind: str) -> bool:
        """Whether at least one enabled rule applies to this kind of list."""
        found = self._ruled.get(kind)
        if found is None:
            found = self._ruled[kind] = any(rule.applies_to(kind) for rule in self.engine_rules)
        return found

    @cached_property
    def _ruled(self) -> dict[str, bool]:
        return {}

    @cached_property
    def rule_products(self) -> frozenset[int]:
        """Every product a rule names or may bring in: their facts are read with each list."""
        return frozenset().union(*(rule_names_products(rule) for rule in self.engine_rules))


@dataclass(frozen=True)
class RenderedList:
    fallback: bool
    items: tuple[bytes, ...]  # each item's JSON, ready to join
    # Where the slowest part came from: "local" (this process), "shared" (Redis) or "database".
    source: str = "local"
    # The products whose facts it was built from: it stays good while none of them changes.
    depends: tuple[int, ...] = ()


@dataclass(frozen=True)
class _Shown:
    """A list as this process last showed it, and what it was built from."""

    stamp: str
    mark: int
    expires: float
    rendered: RenderedList


# A list shown is rebuilt at least this often (and a fallback list, for an id the catalogue may
# have since, as often as that id is looked up again), whatever else changes.
SHOWN_SECONDS = 10 * 60


def _brings_in_a_set(then: dict) -> bool:
    """Whether an if-then rule brings in a category, tag or vendor rather than named products."""
    return "product_ids" not in then and any(key in then for key in ("category", "tag", "vendor"))


def _target_products(then: dict, *, budget: int) -> list[int] | None:
    """The products on sale an if-then rule's category, tag or vendor target may bring in, in
    the rules engine's order (by id); None when the rule names its products itself."""
    if not _brings_in_a_set(then):
        return None
    on_sale = Product.objects.filter(SELLABLE).order_by("pk")
    if "category" in then:
        on_sale = on_sale.filter(category__iexact=then["category"])
    elif "vendor" in then:
        on_sale = on_sale.filter(vendor__iexact=then["vendor"])
    else:
        on_sale = on_sale.filter(tags__icontains=then["tag"])
    chosen = []
    for pk, category, vendor, tags in on_sale.values_list("pk", "category", "vendor", "tags").iterator(2000):
        if target_matches(then, ServingFact(pk=pk, category=category, vendor=vendor, tags=frozenset(tags or ()))):
            chosen.append(pk)
            if len(chosen) >= budget + TARGET_SPARE:
                break
    return chosen


def _rule_document(rule: MerchantRule) -> dict:
    targets = None
    if rule.kind == MerchantRule.Kind.IF_THEN:
        targets = _target_products(rule.params.get("then", {}), budget=int(rule.params.get("max_items", 2)))
    return {
        "kind": rule.kind,
        "params": rule.params,
        "list_kinds": list(rule.list_kinds),
        "name": rule.name,
        "targets": targets,
    }


def _state_from_database(domain: str) -> ShopState | None:
    shop = Shop.objects.filter(domain=domain, status=Shop.Status.INSTALLED).order_by("pk").first()
    if shop is None:
        return None
    plan = shop_plan_get(shop=shop)
    with shop_scope(shop):
        version = model_version_live()
        experiments = experiments_for_storefront() if plan.experiments != 0 else []
        rules = [_rule_document(rule) for rule in MerchantRule.objects.filter(enabled=True).order_by("position", "pk")]
    if plan.experiments is not None:
        experiments = experiments[: plan.experiments]
    return ShopState(
        shop_id=shop.pk,
        currency=shop.currency,
        version_id=version.pk if version else None,
        widgets=widget_settings_from(stored=shop.settings.get(WIDGETS_KEY)),
        experiments=experiments,
        personal=plan.personal,
        rules=rules,
    )


_STATE_FIELDS = frozenset(field.name for field in dataclasses.fields(ShopState))
# What this process remembers of a domain no shop has.
_NO_SHOP = "none"


def shop_state_get(*, domain: str) -> ShopState | None:
    """The installed shop with this domain and its live version, or None if there is none."""
    key = caches.state_key(domain)
    cached = caches.local_states.get(key)
    if cached is not None:
        return None if cached == _NO_SHOP else cached
    document, cache_answers = caches.shared_get(key)
    if document is not None and not _STATE_FIELDS.issuperset(document):
        document = None  # written by another release (a rolling deploy): read afresh
    if document is not None:
        state = ShopState(**document) if document.get("shop_id") else None
    else:
        try:
            state = _state_from_database(domain)
        except DatabaseError as error:
            raise StorefrontUnavailable("database unavailable") from error
        # Unknown domains are remembered too, so that junk requests do not each reach the
        # database, and the state is kept in this process even while Redis is down: degraded
        # mode then costs one state read per process every LOCAL_STATE_SECONDS.
        if cache_answers:
            caches.shared_set_many(
                {key: asdict(state) if state else {"shop_id": None}},
                caches.STATE_SECONDS if state else caches.UNKNOWN_STATE_SECONDS,
            )
    caches.local_states.set(key, state or _NO_SHOP)
    return state


def storefront_products_changed(*, shop_id: int, domain: str, pks) -> None:
    """These products of the shop changed, and the change is committed: their facts are replaced
    everywhere; lists stay as they are and are filtered against the new facts when read. A shop
    whose rules bring in a category, tag or vendor also has its state read afresh, since the
    products those rules may bring in can have changed."""
    serving_facts_changed(shop_id=shop_id, pks=pks)
    with shop_scope(shop_id):
        rules = MerchantRule.objects.filter(enabled=True, kind=MerchantRule.Kind.IF_THEN)
        brings_in_sets = any(
            _brings_in_a_set(params.get("then", {})) for params in rules.values_list("params", flat=True)
        )
    if brings_in_sets:
        caches.storefront_invalidate(domain=domain)


def storefront_memory_clear() -> None:
    """Forget every state, list and fact this process holds (tests, and after a database
    restore: ids may then mean other rows)."""
    caches.local_states.clear()
    caches.local_lists.clear()
    caches.local_rendered.clear()
    caches.local_unknown.clear()
    caches.loads_clear()
    packs.packs_clear()
    local_facts_clear()


def _slowest(*sources: str) -> str:
    return max(sources, key=_SOURCES.index)


def _compact(items: list[dict] | None) -> tuple[tuple[int, str], ...] | None:
    """A stored list as serving keeps it: (product pk, explanation) of its first LIST_ITEMS items."""
    if items is None:
        return None
    return tuple((int(item["product_id"]), item["explanation"]) for item in items[:LIST_ITEMS])


def _json_value(value):
    """A JSON column as PostgreSQL's driver gives it (decoded) or SQLite's (text)."""
    return json.loads(value) if isinstance(value, str) else value


def _lists_from_database(state: ShopState, *, kind: str, anchors: list[str]) -> dict[str, tuple]:
    """{anchor: (anchor product pk or None, compact items or None)} of the live version.

    One indexed statement, written out rather than built by the ORM: on a miss its compilation
    would cost more than the database. The shop is named in it explicitly, as the scoped
    managers would."""
    lists, products = RecommendationList._meta.db_table, Product._meta.db_table
    marks = ", ".join(["%s"] * len(anchors))
    with connection.cursor() as cursor:
        if kind in PRODUCT_LISTS:
            # A correlated subquery, not a join: its lookup is by the whole unique key whatever the
            # planner thinks of a version published since the table was last analysed (as a join,
            # it scanned every list of the version: 0.9 ms against 0.16 ms).
            cursor.execute(
                f'SELECT p."external_id", p."id", (SELECT l."items" FROM "{lists}" l WHERE l."version_id" = %s '
                f'AND l."kind" = %s AND l."anchor" = CAST(p."id" AS TEXT)) FROM "{products}" p '
                f'WHERE p."shop_id" = %s AND p."external_id" IN ({marks})',
                [state.version_id, kind, state.shop_id, *anchors],
            )
            found = {external: (pk, _compact(_json_value(items))) for external, pk, items in cursor.fetchall()}
        else:
            cursor.execute(
                f'SELECT "anchor", NULL, "items" FROM "{lists}" '
                f'WHERE "shop_id" = %s AND "version_id" = %s AND "kind" = %s AND "anchor" IN ({marks})',
                [state.shop_id, state.version_id, kind, *anchors],
            )
            found = {anchor: (None, _compact(_json_value(items))) for anchor, _, items in cursor.fetchall()}
    return {anchor: found.get(anchor, _UNKNOWN) for anchor in anchors}


# What a product id the shop does not have, or an anchor without a list, reads as.
_UNKNOWN = (None, None)


def _unknown_key(state: ShopState, kind: str, anchor: str) -> str:
    return f"{state.shop_id}:{state.version_id}:{kind}:{anchor}"


def lists_get(state: ShopState, *, kind: str, anchors: list[str]) -> tuple[dict[str, tuple], str]:
    """The live version's stored lists for these anchors (product ids, a customer ref, or "" for
    the shop's popular list), each as (anchor product pk or None, compact items or None), and
    where the slowest came from. A product id the shop does not have gets (None, None)."""
    found, source = {}, "local"
    pack = packs.pack_of(state.shop_id, state.version_id)
    if pack is not None and kind in (*packs.PACKED_KINDS, ListKind.POPULAR):
        for anchor in anchors:
            entry = pack.entry(kind, anchor) if kind != ListKind.POPULAR else (None, pack.popular())
            if entry is not None:
                found[anchor] = entry
    for anchor in anchors:
        if anchor in found:
            continue
        entry = caches.local_lists.get(state.shop_id, (state.version_id, kind, anchor))
        if entry is None:
            entry = caches.local_unknown.get(_unknown_key(state, kind, anchor))
        if entry is not None:
            found[anchor] = entry
    missing = [anchor for anchor in anchors if anchor not in found]
    if not missing:
        return found, source
    keys = {
        caches.list_key(shop_id=state.shop_id, version_id=state.version_id, kind=kind, anchor=anchor): anchor
        for anchor in missing
    }
    shared, answered = caches.shared_values_get(list(keys))
    source = "shared"
    for key, entry in shared.items():
        found[keys[key]] = entry
    unread = [anchor for anchor in missing if anchor not in found]
    if unread:
        source = "database"
        loaded = _lists_from_database(state, kind=kind, anchors=unread)
        found.update(loaded)
        if answered:
            by_key = {
                caches.list_key(shop_id=state.shop_id, version_id=state.version_id, kind=kind, anchor=anchor): entry
                for anchor, entry in loaded.items()
            }
            known = {key: entry for key, entry in by_key.items() if entry != _UNKNOWN}
            caches.shared_values_set(known, caches.LIST_SECONDS)
            caches.shared_values_set({k: v for k, v in by_key.items() if k not in known}, caches.UNKNOWN_LIST_SECONDS)
    for anchor in missing:
        if found[anchor] == _UNKNOWN:
            caches.local_unknown.set(_unknown_key(state, kind, anchor), _UNKNOWN)
        else:
            caches.local_lists.set(state.shop_id, (state.version_id, kind, anchor), found[anchor])
    return found, source


def storefront_list_get(
    *,
    state: ShopState,
    kind: str,
    product_id: str,
    cart: tuple[str, ...],
    customer_ref: str = "",
    strategy: str = "",
    limit: int = RENDERED_ITEMS,
) -> RenderedList:
    """The list as the storefront shows it: the stored list, then the merchant's current rules and
    every product's current facts applied, at most `limit` items.

    Reads only the list's own items and the products the rules name, from this process's memory,
    then the shared cache, then the database. `customer_ref` (personal lists) must come from a
    platform-signed identity, never a raw id. `strategy` BEST_SELLERS renders an A/B test's arm
    without the model.
    """
    if kind == "personal" and not state.personal:
        customer_ref = ""  # the plan leaves personal lists out: the anonymous list, never an error
    if state.version_id is None:
        return RenderedList(fallback=True, items=(), source="local")
    pack = packs.pack_serving(state.shop_id, state.version_id)
    if pack is not None and pack.version_id != state.version_id:
        # The new version's pack is on its way: the previous one answers until it is in.
        state = state.for_version(pack.version_id)
    try:
        if kind == "personal":
            return _personal_served(state, limit=limit, customer_ref=customer_ref)
        anchors = tuple(dict.fromkeys((product_id, *cart))) if kind == "cart" else (product_id,)
        key = (kind, anchors, strategy, limit)
        mark = facts_mark(state.shop_id)
        if mark is not None:
            shown = caches.local_rendered.get(state.shop_id, key)
            if (
                shown is not None
                and shown.stamp == state.render_stamp
                and shown.expires > time.monotonic()
                and facts_unchanged_since(state.shop_id, shown.mark, shown.rendered.depends)
            ):
                return shown.rendered
        if kind == "cart":
            rendered = _cart_served(state, limit=limit, anchors=list(anchors), strategy=strategy)
        else:
            rendered = _product_served(state, limit=limit, kind=kind, product_id=product_id, strategy=strategy)
    except DatabaseError as error:
        raise StorefrontUnavailable("database unavailable") from error
    if mark is not None:
        seconds = caches.UNKNOWN_LIST_SECONDS if rendered.fallback else SHOWN_SECONDS
        kept = RenderedList(fallback=rendered.fallback, items=rendered.items, depends=rendered.depends)
        caches.local_rendered.set(
            state.shop_id, key, _Shown(state.render_stamp, mark, time.monotonic() + seconds, kept)
        )
    return rendered


def _product_served(state: ShopState, *, limit: int, kind: str, product_id: str, strategy: str) -> RenderedList:
    entries, source = lists_get(state, kind=kind, anchors=[product_id])
    anchor_pk, items = entries[product_id]
    if items is None and kind == ListKind.BOUGHT_TOGETHER and strategy != BEST_SELLERS:
        # No co-purchase evidence for it (a product new since training, or none of the shop's):
        # no block, never best sellers under a "bought together" title.
        return RenderedList(fallback=True, items=(), source=source)
    if strategy == BEST_SELLERS or items is None:
        return _popular_served(
            state, limit=limit, kind=kind, anchor_pk=anchor_pk, fallback=strategy != BEST_SELLERS, sources=[source]
        )
    return _rendered(state, limit=limit, kind=kind, items=items, anchor_pk=anchor_pk, fallback=False, sources=[source])


def _popular_served(
    state: ShopState,
    *,
    limit: int,
    kind: str,
    fallback: bool,
    sources: list[str],
    anchor_pk: int | None = None,
    basket=(),
) -> RenderedList:
    """The shop's best sellers under the block's rules, without the product viewed or the cart:
    what a block shows when the model has nothing for it, and an A/B test's "best sellers" arm."""
    entries, source = lists_get(state, kind=ListKind.POPULAR, anchors=[""])
    return _rendered(
        state,
        limit=limit,
        kind=kind,
        items=entries[""][1] or (),
        anchor_pk=anchor_pk,
        basket=basket,
        fallback=fallback,
        sources=[*sources, source],
    )


def _personal_served(state: ShopState, *, limit: int, customer_ref: str) -> RenderedList:
    """A customer's list without anything they bought, even since training; the shop's popular
    list for a customer the version does not know."""
    if not customer_ref:
        return _popular_served(state, limit=limit, kind=ListKind.PERSONAL, fallback=True, sources=[])
    entries, source = lists_get(state, kind=ListKind.PERSONAL, anchors=[customer_ref])
    with shop_scope(state.shop_id):
        bought = customer_product_ids(customer_ref=customer_ref)
    items = tuple(item for item in entries[customer_ref][1] or () if item[0] not in bought)
    rendered = _rendered(state, limit=limit, kind=ListKind.PERSONAL, items=items, fallback=False, sources=[source])
    if rendered.items:
        return rendered
    return _popular_served(state, limit=limit, kind=ListKind.PERSONAL, fallback=True, sources=[source])


def _cart_served(state: ShopState, *, limit: int, anchors: list[str], strategy: str) -> RenderedList:
    """What goes with the whole cart: its products' bought-together lists fused by rank."""
    entries, source = lists_get(state, kind=ListKind.BOUGHT_TOGETHER, anchors=anchors)
    known = [entries[anchor] for anchor in anchors if entries[anchor][0] is not None]
    basket = [pk for pk, _ in known]
    if strategy == BEST_SELLERS or not basket:
        return _popular_served(
            state, limit=limit, kind="cart", basket=basket, fallback=strategy != BEST_SELLERS, sources=[source]
        )
    lists = [[{"product_id": pk, "explanation": why} for pk, why in items or ()] for _, items in known]
    wanted = {item["product_id"] for items in lists for item in items} | set(basket) | state.rule_products
    facts, facts_source = facts_get(shop_id=state.shop_id, pks=wanted, shop_currency=state.currency)
    served = cart_list_served(lists=lists, cart=basket, limit=limit, facts=facts, rules=state.engine_rules)
    if not served:
        popular = _popular_served(
            state, limit=limit, kind="cart", basket=basket, fallback=True, sources=[source, facts_source]
        )
        # Shown until one of the cart's complements is on sale again.
        return dataclasses.replace(popular, depends=tuple(sorted({*popular.depends, *wanted})))
    return RenderedList(
        fallback=False,
        items=_cards(served, facts),
        source=_slowest(source, facts_source),
        depends=tuple(sorted(wanted)),
    )


def _rendered(
    state: ShopState,
    *,
    limit: int,
    kind: str,
    items: tuple[tuple[int, str], ...],
    fallback: bool,
    sources: list[str],
    anchor_pk: int | None = None,
    basket=(),
) -> RenderedList:
    """A stored list with the current rules and facts applied."""
    unruled = not basket and not state.ruled(kind)
    if unruled:
        # Most lists: no rule applies, and this process holds the shop's facts. Only as many
        # items are looked at as it takes to fill the list.
        held = facts_held(shop_id=state.shop_id)
        shown = _sellable_cards(items, held, limit=limit, anchor_pk=anchor_pk) if held is not None else None
        if shown is not None:
            cards, examined = shown
            return RenderedList(
                fallback=fallback, items=cards, source=_slowest(*sources), depends=tuple(sorted(examined))
            )
    wanted = {pk for pk, _ in items} | set(basket) | state.rule_products
    if anchor_pk is not None:
        wanted.add(anchor_pk)
    facts, source = facts_get(shop_id=state.shop_id, pks=wanted, shop_currency=state.currency)
    if unruled:
        cards, _ = _sellable_cards(items, facts.get, limit=limit, anchor_pk=anchor_pk, complete=True)
        return RenderedList(
            fallback=fallback, items=cards, source=_slowest(*sources, source), depends=tuple(sorted(wanted))
        )
    served = rules_apply(
        items=({"product_id": pk, "explanation": why} for pk, why in items),
        list_kind=kind,
        anchor=facts.get(anchor_pk) if anchor_pk is not None else None,
        rules=state.engine_rules,
        facts=facts,
        now=timezone.now(),
        limit=limit,
        cart=basket,
    )
    return RenderedList(
        fallback=fallback, items=_cards(served, facts), source=_slowest(*sources, source), depends=tuple(sorted(wanted))
    )


def _sellable_cards(
    items: tuple[tuple[int, str], ...], lookup, *, limit: int, anchor_pk: int | None, complete: bool = False
) -> tuple[tuple[bytes, ...], list[int]] | None:
    """What `rules_apply` gives a list no rule applies to (its first `limit` sellable products,
    never the anchor, each once), as cards, and the products looked at to choose them: without
    the rules' machinery, as most lists are. `lookup(pk)` gives a product's facts; a product it
    does not find is left out when `complete` (the lookup has every product that exists), else
    the answer is None (ask for the facts it lacks)."""
    cards, seen, examined = [], {anchor_pk}, []
    for pk, why in items:
        if pk in seen:
            continue
        fact = lookup(pk)
        if fact is None and not complete:
            return None
        examined.append(pk)
        if fact is None or not fact.sellable:
            continue
        seen.add(pk)
        cards.append(fact.card + _explanation_json(why))
        if len(cards) >= limit:
            break
    return tuple(cards), examined


def _cards(served: list[dict], facts) -> tuple[bytes, ...]:
    cards = []
    for item in served:
        fact = facts.get(int(item["product_id"]))
        if fact is not None:  # else dropped by a change announced since the rules read it
            cards.append(fact.card + _explanation_json(item["explanation"]))
    return tuple(cards)


@functools.lru_cache(maxsize=8192)
def _explanation_json(explanation: str) -> bytes:
    """A card's closing member; a shop's explanations repeat ("Often bought with ..."), so each is
    encoded once."""
    return b',"explanation":' + json.dumps(explanation, ensure_ascii=False).encode() + b"}"
