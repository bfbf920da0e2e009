"""The Rules page: create, edit, order, switch off and delete rules, with validation and a
preview of their effect; every change reaches the storefront at once; one shop only."""

from __future__ import annotations

import pytest
from django.test import Client

from recommendations.models import MerchantRule
from shops.models import Product
from shops.tenancy import shop_scope
from tests.shops.dashboard_fixtures import sign_in, trained_demo_shop

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop_and_demo():
    return trained_demo_shop("rules.example")


def served(client, shop, product_id: str, kind: str = "related") -> list[str]:
    response = client.get(
        "/api/storefront/v1/recommendations", {"shop": shop.domain, "type": kind, "product_id": product_id}
    )
    assert response.status_code == 200
    return [item["product_id"] for item in response.json()["items"]]


def sellable(shop) -> list[Product]:
    with shop_scope(shop):
        return list(Product.objects.filter(status="published", in_stock=True).order_by("pk"))


def rules_of(shop) -> list[MerchantRule]:
    with shop_scope(shop):
        return list(MerchantRule.objects.order_by("position", "pk"))


def test_a_pin_made_on_the_page_leads_the_storefront_list_and_can_be_switched_off(client, post, shop_and_demo):
    shop, _ = shop_and_demo
    anchor, pinned = sellable(shop)[0], sellable(shop)[-1]
    sign_in(client, shop)
    assert pinned.external_id not in served(client, shop, anchor.external_id)[:1]

    response = post(
        "/dashboard/rules/new",
        {"kind": "pin", "name": "Hero product", "product_ids": pinned.external_id, "enabled": "on"},
    )

    assert response.status_code == 302 and response["Location"] == "/dashboard/rules?done=created"
    (rule,) = rules_of(shop)
    assert rule.params == {"product_ids": [pinned.pk]} and rule.enabled
    assert served(client, shop, anchor.external_id)[0] == pinned.external_id
    page = client.get("/dashboard/rules").content.decode()
    assert "Hero product" in page and f"Show {pinned.title} first." in page

    post(f"/dashboard/rules/{rule.pk}/action", {"action": "disable"})
    assert not rules_of(shop)[0].enabled
    assert served(client, shop, anchor.external_id)[:1] != [pinned.external_id]


def test_editing_a_rule_changes_what_the_storefront_shows(client, post, shop_and_demo):
    shop, _ = shop_and_demo
    products = sellable(shop)
    anchor = products[0]
    first, second = served(client, shop, anchor.external_id)[:2]
    sign_in(client, shop)
    post("/dashboard/rules/new", {"kind": "exclude", "product_ids": first, "enabled": "on"})
    assert first not in served(client, shop, anchor.external_id)
    (rule,) = rules_of(shop)

    form = client.get(f"/dashboard/rules/{rule.pk}").content.decode()
    assert f'value="{first}"' in form  # the store's product ids, not internal keys

    post(f"/dashboard/rules/{rule.pk}", {"kind": "exclude", "product_ids": second, "enabled": "on"})
    now = served(client, shop, anchor.external_id)
    assert first in now and second not in now


def test_bad_rules_get_inline_errors_and_nothing_is_saved(client, post, shop_and_demo):
    shop, _ = shop_and_demo
    sign_in(client, shop)
    cases = [
        ({"kind": "pin", "product_ids": "no-such-product"}, "product_ids", "no product with id no-such-product"),
        ({"kind": "exclude", "product_ids": ""}, "product_ids", "a non-empty list of product ids"),
        (
            {
                "kind": "if_then",
                "when.price_min": "50",
                "when.price_max": "10",
                "then_type": "category",
                "then_value": "x",
            },
            "when.price_max",
            "must not be below price_min",
        ),
        (
            {"kind": "if_then", "when.price_min": "cheap", "then_type": "tag", "then_value": "x"},
            "when.price_min",
            "a number",
        ),
        ({"kind": "if_then", "then_type": "category", "then_value": "x", "max_items": "13"}, "max_items", "1 to 12"),
        (
            {"kind": "if_then", "when.date_from": "2026-13-01", "then_type": "tag", "then_value": "x"},
            "when.date_from",
            "YYYY-MM-DD",
        ),
        ({"kind": "teleport", "product_ids": ""}, "kind", "one of"),
    ]
    for data, field, message in cases:
        response = post("/dashboard/rules/new", data)
        html = response.content.decode()
        assert response.status_code == 400, data
        assert message in html, (data, html[-2000:])
        assert 'aria-invalid="true"' in html or field == "kind"
        assert "The rule was not saved" in html
    assert rules_of(shop) == []


def test_a_bad_edit_leaves_the_saved_rule_as_it_was(client, post, shop_and_demo):
    shop, _ = shop_and_demo
    product = sellable(shop)[0]
    sign_in(client, shop)
    post("/dashboard/rules/new", {"kind": "exclude", "product_ids": product.external_id, "enabled": "on"})
    (rule,) = rules_of(shop)
    response = post(f"/dashboard/rules/{rule.pk}", {"kind": "exclude", "product_ids": "nope", "name": "x" * 121})
    assert response.status_code == 400
    (after,) = rules_of(shop)
    assert after.params == rule.params and after.name == rule.name and after.enabled


def test_the_preview_shows_the_effect_without_saving(client, post, shop_and_demo):
    shop, _ = shop_and_demo
    # The product recommended most often: excluding it must change many lists.
    from collections import Counter

    from recommendations.models import RecommendationList

    with shop_scope(shop):
        counts = Counter(
            item["product_id"]
            for items in RecommendationList.objects.filter(kind="related").values_list("items", flat=True)
            for item in items[:8]
        )
        popular = Product.objects.get(pk=counts.most_common(1)[0][0])
    sign_in(client, shop)

    response = post(
        "/dashboard/rules/new",
        {"kind": "exclude", "product_ids": popular.external_id, "enabled": "on", "intent": "preview"},
    )

    html = response.content.decode()
    assert response.status_code == 200 and "Preview: what this rule would change (not saved)" in html
    assert rules_of(shop) == []
    import re

    changed = [int(n) for n in re.findall(r"<strong>(\d+)</strong> of the \d+ best sellers", html)]
    assert changed and max(changed) > 0
    from django.utils.html import escape

    assert escape(popular.title) in html  # in the "now" column of an example (titles may hold "&")


def test_rules_can_be_reordered_and_deleted(client, post, shop_and_demo):
    shop, _ = shop_and_demo
    products = sellable(shop)
    sign_in(client, shop)
    for product in products[:3]:
        post("/dashboard/rules/new", {"kind": "exclude", "product_ids": product.external_id, "enabled": "on"})
    first, second, third = (rule.pk for rule in rules_of(shop))

    post(f"/dashboard/rules/{third}/action", {"action": "up"})
    assert [rule.pk for rule in rules_of(shop)] == [first, third, second]
    post(f"/dashboard/rules/{first}/action", {"action": "down"})
    assert [rule.pk for rule in rules_of(shop)] == [third, first, second]
    assert [rule.position for rule in rules_of(shop)] == [0, 1, 2]

    post(f"/dashboard/rules/{first}/action", {"action": "delete"})
    assert [rule.pk for rule in rules_of(shop)] == [third, second]
    assert post(f"/dashboard/rules/{second}/action", {"action": "explode"}).status_code == 400


def test_another_shops_rule_answers_like_a_missing_one(client, post, shop_and_demo):
    """Isolation: shop A's session can neither see nor change shop B's rules."""
    from tests.factories import make_merchant_rule, make_shop

    shop, _ = shop_and_demo
    other = make_shop(domain="other-rules.example")
    with shop_scope(other):
        theirs = make_merchant_rule(other, name="Their secret rule")
    sign_in(client, shop)

    missing = client.get("/dashboard/rules/999999")
    for response in (
        client.get(f"/dashboard/rules/{theirs.pk}"),
        post(f"/dashboard/rules/{theirs.pk}", {"kind": "exclude", "product_ids": ""}),
        post(f"/dashboard/rules/{theirs.pk}/action", {"action": "delete"}),
    ):
        assert response.status_code == missing.status_code == 404
    assert "Their secret rule" not in client.get("/dashboard/rules").content.decode()
    assert MerchantRule.all_shops.get(pk=theirs.pk).name == "Their secret rule"
    # A product id of the other shop is unknown here.
    with shop_scope(other):
        from tests.factories import make_product

        foreign = make_product(other, external_id="only-in-other-shop")
    response = post("/dashboard/rules/new", {"kind": "exclude", "product_ids": foreign.external_id})
    assert response.status_code == 400 and rules_of(shop) == []


def test_a_session_post_needs_the_csrf_token(shop_and_demo):
    shop, _ = shop_and_demo
    strict = Client(enforce_csrf_checks=True)
    sign_in(strict, shop)
    product = sellable(shop)[0]
    refused = strict.post("/dashboard/rules/new", {"kind": "exclude", "product_ids": product.external_id})
    assert refused.status_code == 403 and rules_of(shop) == []
    page = strict.get("/dashboard/rules/new")
    token = page.cookies["csrftoken"].value if "csrftoken" in page.cookies else strict.cookies["csrftoken"].value
    accepted = strict.post(
        "/dashboard/rules/new",
        {"kind": "exclude", "product_ids": product.external_id, "csrfmiddlewaretoken": token},
    )
    assert accepted.status_code == 302 and len(rules_of(shop)) == 1


def test_every_problem_of_a_rule_is_shown_at_once(client, shop_and_demo):
    shop, _ = shop_and_demo
    sign_in(client, shop)
    response = client.post("/dashboard/rules/new", {"kind": "pin", "product_ids": "nope", "name": "x" * 121})
    html = response.content.decode()
    assert response.status_code == 400
    assert "no product with id nope" in html and "at most 120 characters" in html
    assert rules_of(shop) == []
