"""Reading published lists with the merchant's current rules and today's stock applied."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from django.utils import timezone

from recommendations.engine.cart import cart_combine
from recommendations.models import ListKind, ModelVersion
from recommendations.rules import ProductFacts, Rule, rules_apply
from recommendations.selectors import customer_product_ids, recommendation_list_get


def popular_fallback(
    *,
    version: ModelVersion | None,
    limit: int,
    facts: Mapping[int, ProductFacts],
    rules: list[Rule],
    list_kind: str = ListKind.POPULAR,
    anchor_pk: int | None = None,
    cart_pks: Sequence[int] = (),
):
    """The shop's popular list under its rules: what a block shows for a product the version does
    not know, and an A/B test's "best sellers" arm (with the block's rules, without the product
    viewed or what is in the cart)."""
    items = (recommendation_list_get(version=version, kind=ListKind.POPULAR, anchor="") or []) if version else []
    return rules_apply(
        items=items,
        list_kind=list_kind,
        anchor=facts.get(anchor_pk) if anchor_pk is not None else None,
        rules=rules,
        facts=facts,
        now=timezone.now(),
        limit=limit,
        cart=cart_pks,
    )


def recommendations_for_product(
    *,
    version: ModelVersion,
    product_pk: int,
    kind: str,
    limit: int,
    facts: Mapping[int, ProductFacts],
    rules: list[Rule],
) -> list[dict]:
    """A product's related or bought-together list; falls back to the shop's popular list."""
    items = recommendation_list_get(version=version, kind=kind, anchor=str(product_pk))
    if items is None:
        return popular_fallback(version=version, limit=limit, facts=facts, rules=rules)
    return rules_apply(
        items=items,
        list_kind=kind,
        anchor=facts.get(product_pk),
        rules=rules,
        facts=facts,
        now=timezone.now(),
        limit=limit,
    )


def recommendations_for_customer(
    *, version: ModelVersion, customer_ref: str, limit: int, facts: Mapping[int, ProductFacts], rules: list[Rule]
) -> list[dict]:
    """A customer's personal list without anything they bought, even since training."""
    items = recommendation_list_get(version=version, kind=ListKind.PERSONAL, anchor=customer_ref)
    if items is None:
        items = recommendation_list_get(version=version, kind=ListKind.POPULAR, anchor="") or []
    bought = customer_product_ids(customer_ref=customer_ref)
    return rules_apply(
        items=[item for item in items if item["product_id"] not in bought],
        list_kind=ListKind.PERSONAL,
        anchor=None,
        rules=rules,
        facts=facts,
        now=timezone.now(),
        limit=limit,
    )


def recommendations_for_cart(
    *,
    version: ModelVersion,
    product_pks: list[int],
    limit: int,
    facts: Mapping[int, ProductFacts],
    rules: list[Rule],
) -> list[dict]:
    """What goes with the whole cart, from the version's stored bought-together lists."""
    cart = list(dict.fromkeys(int(pk) for pk in product_pks))
    lists = [
        recommendation_list_get(version=version, kind=ListKind.BOUGHT_TOGETHER, anchor=str(pk)) or [] for pk in cart
    ]
    return cart_list_served(lists=lists, cart=cart, limit=limit, facts=facts, rules=rules)


def cart_list_served(
    *,
    lists: Sequence[Sequence[dict]],
    cart: Sequence[int],
    limit: int,
    facts: Mapping[int, ProductFacts],
    rules: Sequence[Rule],
) -> list[dict]:
    """The cart items' bought-together lists (`lists[i]` is `cart[i]`'s) fused by rank.

    Rank fusion, not score sums, because a list may mix co-purchase scores with fallback ones.
    Items already in the cart are never shown; the explanation names the cart item(s) behind it.
    `facts` must cover the cart's products (for their titles) and the lists' items.
    """
    ranked = [
        (
            np.array([item["product_id"] for item in items], dtype=np.int64),
            np.array([1.0 / (rank + 1) for rank in range(len(items))]),
        )
        for items in lists
    ]
    fused, scores, contributors = cart_combine(ranked, list(cart), max(1, sum(map(len, lists))), method="rank")
    evidence = {(pk, item["product_id"]): item for pk, items in zip(cart, lists, strict=True) for item in items}
    combined = []
    for pk, score, sources in zip(fused.tolist(), scores.tolist(), contributors, strict=True):
        if pk < 0:
            break
        titles = [facts[source].title for source in sources if source in facts]
        first = evidence[(sources[0], pk)]
        sentence = f"Goes with {titles[0]} in your cart" if len(titles) == 1 else "Goes with items in your cart"
        combined.append(
            {
                "product_id": pk,
                "score": round(score, 6),
                "reason": first.get("reason", ""),
                "explanation": f"{sentence} ({first['explanation'][0].lower()}{first['explanation'][1:]})",
                "evidence": {"cart_products": list(sources), **first.get("evidence", {})},
            }
        )
    return rules_apply(
        items=combined,
        list_kind="cart",
        anchor=None,
        rules=rules,
        facts=facts,
        now=timezone.now(),
        limit=limit,
        cart=cart,
    )
