"""`train` and `recommend` as an operator runs them, and the serving read path behind them."""

from __future__ import annotations

import io
import json
from collections import Counter

import pytest
from django.core.management import CommandError, call_command

from recommendations.models import ListKind, ModelVersion, RecommendationList, TrainingRun
from recommendations.selectors import merchant_rules_active, model_version_live, product_facts_all
from recommendations.services.rules import merchant_rule_create
from recommendations.services.serving import recommendations_for_cart
from recommendations.services.settings import recommendation_settings_update
from recommendations.services.training import training_after_sync
from shops.demo.generator import demo_shop_generate
from shops.models import Order, Product
from shops.services.demo import demo_shop_load
from shops.tenancy import shop_scope

pytestmark = pytest.mark.django_db


@pytest.fixture
def trained_shop(shop):
    demo = demo_shop_generate(seed=5, product_count=60, order_count=1200)
    with shop_scope(shop):
        demo_shop_load(shop=shop, demo=demo)
    out = io.StringIO()
    call_command("train", shop.domain, stdout=out)
    return shop, demo, out.getvalue()


def recommend(shop, tmp_path, kind: str, ids: list[str], *args: str) -> list[dict]:
    path = tmp_path / "ids.txt"
    path.write_text("\n".join(ids) + "\n\n")
    out = io.StringIO()
    call_command("recommend", shop.domain, "--type", kind, "--input", str(path), *args, stdout=out)
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_train_prints_the_comparison_and_publishes(trained_shop):
    shop, _, output = trained_shop
    assert "popular (baseline)" in output and "recent_popular (baseline)" in output
    assert "bt_blend" in output and "ease_recency_blend" in output and "surprise_svd" in output
    assert "Published: first version." in output
    with shop_scope(shop):
        assert TrainingRun.objects.get().status == TrainingRun.Status.SUCCEEDED
        assert ModelVersion.objects.filter(status="live").count() == 1


def test_recommend_exports_one_explained_line_per_input(trained_shop, tmp_path):
    shop, demo, _ = trained_shop
    first, second = demo.complementary_pairs[0]

    lines = recommend(shop, tmp_path, "bought_together", [first, "NO-SUCH-PRODUCT"], "--limit", "5")

    assert [line["input"] for line in lines] == [first, "NO-SUCH-PRODUCT"]
    assert lines[1]["items"] == []
    items = lines[0]["items"]
    assert 1 <= len(items) <= 5
    assert all(set(item) == {"product_id", "score", "explanation"} for item in items)
    with shop_scope(shop):
        external_ids = set(Product.objects.values_list("external_id", flat=True))
    assert {item["product_id"] for item in items} <= external_ids
    assert first not in {item["product_id"] for item in items}


def test_personal_export_leaves_out_everything_the_customer_bought(trained_shop, tmp_path):
    shop, demo, _ = trained_shop
    customers = Counter(order.customer_id for order in demo.orders if order.customer_id)
    customer = customers.most_common(1)[0][0]
    bought = {
        line.product_external_id for order in demo.orders if order.customer_id == customer for line in order.lines
    }

    [line] = recommend(shop, tmp_path, "personal", [customer], "--limit", "24")

    assert line["input"] == customer and line["items"]
    assert not bought & {item["product_id"] for item in line["items"]}
    # An unknown customer still gets the shop's popular products, not an error.
    [stranger] = recommend(shop, tmp_path, "personal", ["never-seen"], "--limit", "3")
    assert len(stranger["items"]) == 3


def test_rules_added_after_training_apply_when_reading(trained_shop, tmp_path):
    shop, demo, _ = trained_shop
    first, _ = demo.complementary_pairs[0]
    before = recommend(shop, tmp_path, "related", [first], "--limit", "5")[0]["items"]
    banned = before[0]["product_id"]
    with shop_scope(shop):
        merchant_rule_create(
            shop=shop, kind="exclude", params={"product_ids": [Product.objects.get(external_id=banned).pk]}
        )
    after = recommend(shop, tmp_path, "related", [first], "--limit", "5")[0]["items"]
    assert banned not in {item["product_id"] for item in after}


def test_recommend_refuses_bad_input(trained_shop, tmp_path, other_shop):
    shop, _, _ = trained_shop
    with pytest.raises(CommandError, match="--limit must be between 1 and 24"):
        recommend(shop, tmp_path, "related", ["x"], "--limit", "0")
    with pytest.raises(CommandError, match="no such file"):
        call_command("recommend", shop.domain, "--type", "related", "--input", str(tmp_path / "missing.txt"))
    with pytest.raises(CommandError, match="has no published recommendations yet"):
        recommend(other_shop, tmp_path, "related", ["x"])


def test_cart_combines_the_cart_items_lists_without_the_cart(trained_shop):
    shop, demo, _ = trained_shop
    with shop_scope(shop):
        pks = dict(Product.objects.values_list("external_id", "pk"))
        cart = [pks[demo.complementary_pairs[0][0]], pks[demo.complementary_pairs[1][0]]]
        items = recommendations_for_cart(
            version=model_version_live(),
            product_pks=cart,
            limit=6,
            facts=product_facts_all(),
            rules=merchant_rules_active(),
        )
    assert 1 <= len(items) <= 6
    assert not set(cart) & {item["product_id"] for item in items}
    assert all(item["explanation"].startswith("Goes with") for item in items)
    assert all(set(item["evidence"]["cart_products"]) <= set(cart) for item in items)


def test_bundles_are_published_with_their_evidence(trained_shop):
    shop, _, _ = trained_shop
    with shop_scope(shop):
        bundles = RecommendationList.objects.filter(version=model_version_live(), kind=ListKind.BUNDLE).exclude(
            items=[]
        )
        assert bundles.exists()
        for bundle in bundles:
            assert 1 <= len(bundle.items) <= 2
            assert all(item["evidence"]["together_count"] >= 2 for item in bundle.items)


def test_category_cap_setting_limits_items_per_category(trained_shop):
    shop, _, _ = trained_shop
    with shop_scope(shop):
        recommendation_settings_update(
            shop=shop, diversity={"strategy": "cap", "group": "category", "max_per_group": 2}
        )
    call_command("train", shop.domain, stdout=io.StringIO())
    with shop_scope(shop):
        categories = dict(Product.objects.values_list("pk", "category"))
        lists = RecommendationList.objects.filter(version=model_version_live(), kind=ListKind.RELATED)
        for items in lists.values_list("items", flat=True):
            top = Counter(categories[item["product_id"]] for item in items[:6])
            assert max(top.values()) <= 2


def test_invalid_diversity_setting_is_refused_and_not_saved(shop):
    from shops.errors import ValidationFailed

    with pytest.raises(ValidationFailed, match="max_per_group: a whole number from 1 to 12"):
        recommendation_settings_update(shop=shop, diversity={"strategy": "cap", "max_per_group": 0})
    shop.refresh_from_db()
    assert "diversity" not in shop.settings


def test_a_large_sync_queues_a_retraining(trained_shop, django_capture_on_commit_callbacks):
    shop, _, _ = trained_shop
    with shop_scope(shop):
        known = Order.objects.count()
        assert training_after_sync(shop=shop, new_orders=3, known_orders=known) is None
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            run = training_after_sync(shop=shop, new_orders=known // 4, known_orders=known)
    assert run.trigger == TrainingRun.Trigger.SYNC and run.status == TrainingRun.Status.QUEUED
    assert len(callbacks) == 1
