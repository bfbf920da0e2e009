"""Merchant rules: validation (nothing saved when invalid) and their effect on a list."""

from __future__ import annotations

import datetime as dt

import pytest

from recommendations.models import MerchantRule
from recommendations.rules import ProductFacts, Rule, rules_apply
from recommendations.services.rules import merchant_rule_create
from shops.errors import ValidationFailed
from shops.tenancy import shop_scope
from tests.factories import make_product

NOW = dt.datetime(2026, 12, 10, 12, 0, tzinfo=dt.UTC)


def facts(*products: ProductFacts) -> dict[int, ProductFacts]:
    return {product.pk: product for product in products}


CATALOG = facts(
    ProductFacts(pk=1, category="Candles", vendor="Glow", tags=frozenset({"heart"}), price=12.0, popularity=5),
    ProductFacts(pk=2, category="Candles", vendor="Glow", price=8.0, popularity=9),
    ProductFacts(pk=3, category="Matches", vendor="Strike", price=2.0, popularity=3),
    ProductFacts(pk=4, category="Tea", vendor="Leaf", price=6.0, popularity=7),
    ProductFacts(pk=5, category="Tea", vendor="Leaf", price=9.0, popularity=1, sellable=False),
    ProductFacts(pk=6, category="Gift wrap", vendor="Paper", tags=frozenset({"christmas"}), price=3.0, popularity=2),
)


def model_list(*pks: int) -> list[dict]:
    return [
        {"product_id": pk, "score": 1.0 / (n + 1), "reason": "bought_together", "explanation": "x"}
        for n, pk in enumerate(pks)
    ]


def apply(items, rules, *, anchor=1, kind="bought_together", limit=10):
    result = rules_apply(
        items=items, list_kind=kind, anchor=CATALOG.get(anchor), rules=rules, facts=CATALOG, now=NOW, limit=limit
    )
    return [item["product_id"] for item in result]


def test_without_rules_only_sellable_products_other_than_the_anchor_remain():
    assert apply(model_list(1, 5, 3, 4, 99), []) == [3, 4]


def test_pins_come_first_and_exclusions_win_everywhere():
    rules = [
        Rule(kind="pin", params={"product_ids": [6, 4]}),
        Rule(kind="exclude", params={"product_ids": [4]}),
    ]
    assert apply(model_list(2, 3, 4), rules) == [6, 2, 3]


def test_pin_for_some_anchors_only():
    rule = Rule(kind="pin", params={"product_ids": [6], "anchor_product_ids": [2]})
    assert apply(model_list(3, 4), [rule], anchor=1) == [3, 4]
    assert apply(model_list(3, 4), [rule], anchor=2) == [6, 3, 4]


def test_never_pair_works_both_ways():
    rule = Rule(kind="never_pair", params={"product_ids": [1], "with_product_ids": [3]})
    assert apply(model_list(3, 4), [rule], anchor=1) == [4]
    assert apply(model_list(1, 4), [rule], anchor=3) == [4]
    assert apply(model_list(1, 3, 4), [rule], anchor=2) == [1, 3, 4]


def test_if_then_brings_the_targets_most_popular_products_in_after_pins():
    rule = Rule(
        kind="if_then",
        params={"when": {"category": "candles", "price_min": 10}, "then": {"category": "Tea"}, "max_items": 2},
    )
    # Tea 5 is not sellable, so only tea 4 is brought in.
    assert apply(model_list(3), [rule], anchor=1) == [4, 3]
    # The anchor's price is below price_min: no effect.
    assert apply(model_list(3), [rule], anchor=2) == [3]


def test_if_then_date_window_and_list_kinds():
    rule = Rule(
        kind="if_then",
        params={"when": {"date_from": "2026-12-01", "date_to": "2026-12-24"}, "then": {"tag": "christmas"}},
        list_kinds=frozenset({"related"}),
    )
    assert apply(model_list(3), [rule], kind="related") == [6, 3]
    assert apply(model_list(3), [rule], kind="bought_together") == [3]
    later = Rule(kind="if_then", params={"when": {"date_from": "2027-01-01"}, "then": {"tag": "christmas"}})
    assert apply(model_list(3), [later], kind="related") == [3]


def test_limit_is_respected_after_pins():
    rules = [Rule(kind="pin", params={"product_ids": [6, 4]})]
    assert apply(model_list(2, 3), rules, limit=3) == [6, 4, 2]


@pytest.mark.django_db
def test_valid_rules_are_saved_in_order(shop):
    teapot, tea = make_product(shop), make_product(shop)
    with shop_scope(shop):
        first = merchant_rule_create(shop=shop, kind="pin", params={"product_ids": [tea.pk]}, list_kinds=["related"])
        second = merchant_rule_create(
            shop=shop,
            kind="if_then",
            params={"when": {"category": "Kitchen", "date_from": "2026-12-01"}, "then": {"product_ids": [teapot.pk]}},
        )
        assert [rule.pk for rule in MerchantRule.objects.order_by("position")] == [first.pk, second.pk]
    assert second.params["max_items"] == 2


INVALID = [
    ("unknown_kind_case", "boost", {}, "kind: one of pin"),
    ("empty_pin_case", "pin", {"product_ids": []}, "product_ids: a non-empty list of product ids"),
    ("unknown_product_case", "exclude", {"product_ids": [999999]}, "unknown product id(s): 999999"),
    ("self_pair_case", "never_pair", {"product_ids": [1], "with_product_ids": [1]}, "kept apart from itself"),
    (
        "bad_condition_case",
        "if_then",
        {"when": {"colour": "red"}, "then": {"tag": "x"}},
        "unknown condition(s): colour",
    ),
    (
        "bad_price_case",
        "if_then",
        {"when": {"price_min": 10, "price_max": 5}, "then": {"tag": "x"}},
        "must not be below price_min",
    ),
    ("bad_date_case", "if_then", {"when": {"date_from": "tomorrow"}, "then": {"tag": "x"}}, "a date as YYYY-MM-DD"),
    ("two_targets_case", "if_then", {"when": {}, "then": {"tag": "x", "category": "y"}}, "exactly one of"),
    ("too_many_items_case", "if_then", {"when": {}, "then": {"tag": "x"}, "max_items": 50}, "from 1 to 12"),
]


@pytest.mark.django_db
@pytest.mark.parametrize("case,kind,params,message", INVALID, ids=[case[0] for case in INVALID])
def test_invalid_rules_are_refused_and_nothing_is_saved(shop, case, kind, params, message):
    product = make_product(shop)
    params = {key: ([product.pk] if value == [1] else value) for key, value in params.items()}
    with shop_scope(shop):
        with pytest.raises(ValidationFailed, match=message.replace("(", r"\(").replace(")", r"\)")):
            merchant_rule_create(shop=shop, kind=kind, params=params)
        assert MerchantRule.objects.count() == 0


@pytest.mark.django_db
def test_another_shops_product_reads_as_unknown(shop, other_shop):
    theirs = make_product(other_shop)
    with shop_scope(shop):
        with pytest.raises(ValidationFailed, match=f"unknown product id\\(s\\): {theirs.pk}"):
            merchant_rule_create(shop=shop, kind="exclude", params={"product_ids": [theirs.pk]})
