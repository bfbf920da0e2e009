"""Merchant rules applied to a list: pure functions over product facts, no database access.

Used at publish time (training) and again when serving, so a rule edited after training takes
effect at once. Order of effects: drop what may not be shown (unsellable, excluded, never-paired,
the anchor itself), put pinned products first, then products an if-then rule asks for, then the
model's own items.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

PINNED = "pinned"
MERCHANT_RULE = "merchant_rule"


@dataclass(frozen=True)
class ProductFacts:
    pk: int
    title: str = ""
    category: str = ""
    vendor: str = ""
    tags: frozenset[str] = frozenset()
    price: float = 0.0
    sellable: bool = True
    # Orders containing the product recently: orders the items an if-then rule brings in.
    popularity: float = 0.0


@dataclass(frozen=True)
class Rule:
    kind: str
    params: Mapping
    list_kinds: frozenset[str] = field(default_factory=frozenset)
    name: str = ""
    # For an if-then rule that brings in a category, tag or vendor: the products it may bring in,
    # in order, when the caller looked them up instead of passing every product's facts (the
    # storefront). None: they are found among `facts`.
    targets: tuple[int, ...] | None = None

    def applies_to(self, list_kind: str) -> bool:
        return not self.list_kinds or list_kind in self.list_kinds


def _ids(values: Iterable) -> set[int]:
    return {int(value) for value in values or ()}


def _lower(text: str) -> str:
    return (text or "").strip().casefold()


def condition_matches(when: Mapping, anchor: ProductFacts | None, now: dt.datetime) -> bool:
    """Whether an if-then rule's `when` holds for the viewed product at `now`."""
    if when.get("date_from") and now.date() < dt.date.fromisoformat(when["date_from"]):
        return False
    if when.get("date_to") and now.date() > dt.date.fromisoformat(when["date_to"]):
        return False
    product_conditions = ("category", "vendor", "tag", "price_min", "price_max")
    if any(key in when for key in product_conditions) and anchor is None:
        return False
    if anchor is None:
        return True
    if "category" in when and _lower(when["category"]) != _lower(anchor.category):
        return False
    if "vendor" in when and _lower(when["vendor"]) != _lower(anchor.vendor):
        return False
    if "tag" in when and _lower(when["tag"]) not in {_lower(tag) for tag in anchor.tags}:
        return False
    if "price_min" in when and anchor.price < float(when["price_min"]):
        return False
    if "price_max" in when and anchor.price > float(when["price_max"]):
        return False
    return True


def _target_products(then: Mapping, facts: Mapping[int, ProductFacts], targets: tuple[int, ...] | None) -> list[int]:
    if "product_ids" in then:
        return [int(pk) for pk in then["product_ids"]]
    if targets is not None:
        return list(targets)
    if "category" in then:
        wanted = _lower(then["category"])
        chosen = [f for f in facts.values() if _lower(f.category) == wanted]
    elif "tag" in then:
        wanted = _lower(then["tag"])
        chosen = [f for f in facts.values() if wanted in {_lower(tag) for tag in f.tags}]
    elif "vendor" in then:
        wanted = _lower(then["vendor"])
        chosen = [f for f in facts.values() if _lower(f.vendor) == wanted]
    else:
        return []
    return [f.pk for f in sorted(chosen, key=lambda f: (-f.popularity, f.pk))]


def target_matches(then: Mapping, fact: ProductFacts) -> bool:
    """Whether a product is one an if-then rule's category, tag or vendor target names."""
    if "category" in then:
        return _lower(fact.category) == _lower(then["category"])
    if "tag" in then:
        return _lower(then["tag"]) in {_lower(tag) for tag in fact.tags}
    if "vendor" in then:
        return _lower(fact.vendor) == _lower(then["vendor"])
    return False


def rule_names_products(rule: Rule) -> set[int]:
    """Every product a rule names or may bring in: the facts a reader must have to apply it."""
    params = rule.params
    named = _ids(params.get("product_ids")) | _ids(params.get("with_product_ids"))
    if rule.kind == "if_then":
        named |= _ids(params.get("then", {}).get("product_ids"))
        named |= set(rule.targets or ())
    return named


def _describe_target(then: Mapping) -> str:
    for key in ("category", "tag", "vendor"):
        if key in then:
            return f"{key} '{then[key]}'"
    return "products"


def rules_apply(
    *,
    items: Iterable[dict],
    list_kind: str,
    anchor: ProductFacts | None,
    rules: Sequence[Rule],
    facts: Mapping[int, ProductFacts],
    now: dt.datetime,
    limit: int,
    cart: Iterable[int] = (),
) -> list[dict]:
    """The list after the merchant's rules, at most `limit` items, sellable products only.

    `items` are dicts with at least "product_id"; `facts` must cover every product id the items
    and the rules name (unknown ids are dropped, as for a deleted product). For a cart list,
    `cart` holds the cart's products: none of them is recommended, and each counts as an anchor
    for never-pair and anchor-specific pins.
    """
    active = [rule for rule in rules if rule.applies_to(list_kind)]
    anchors = {anchor.pk} if anchor else set()
    anchors |= {int(pk) for pk in cart}
    blocked: set[int] = set(anchors)
    for rule in active:
        if rule.kind == "exclude":
            blocked |= _ids(rule.params.get("product_ids"))
        elif rule.kind == "never_pair":
            left, right = _ids(rule.params.get("product_ids")), _ids(rule.params.get("with_product_ids"))
            if anchors & left:
                blocked |= right
            if anchors & right:
                blocked |= left

    def allowed(pk: int) -> bool:
        fact = facts.get(pk)
        return fact is not None and fact.sellable and pk not in blocked

    result: list[dict] = []
    seen: set[int] = set()

    def add(entry: dict) -> None:
        pk = int(entry["product_id"])
        if pk not in seen and allowed(pk) and len(result) < limit:
            seen.add(pk)
            result.append(entry)

    for rule in active:
        if rule.kind != "pin":
            continue
        pinned_for = _ids(rule.params.get("anchor_product_ids"))
        if pinned_for and not pinned_for & anchors:
            continue
        for pk in rule.params.get("product_ids", []):
            add({"product_id": int(pk), "score": None, "reason": PINNED, "explanation": "Pinned by the shop"})

    for rule in active:
        if rule.kind != "if_then" or not condition_matches(rule.params.get("when", {}), anchor, now):
            continue
        then = rule.params.get("then", {})
        budget = int(rule.params.get("max_items", 2))
        sentence = f"Chosen by the shop: {_describe_target(then)}"
        for pk in _target_products(then, facts, rule.targets):
            if budget <= 0:
                break
            before = len(result)
            add({"product_id": pk, "score": None, "reason": MERCHANT_RULE, "explanation": sentence})
            budget -= len(result) - before

    for entry in items:
        if len(result) >= limit:
            break
        add(entry)
    return result
