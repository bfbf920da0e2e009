"""Experiments: validated creation with a fixed duration and no overlap on a block, stopping,
visitor counts, order marks from both platforms, and results only once a test has ended."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from recommendations.engine.experiments import arm_assign
from recommendations.models import Experiment, ExperimentDailyCount
from recommendations.selectors import experiment_results_get
from recommendations.services.experiments import (
    experiment_assignment,
    experiment_create,
    experiment_exposures_record,
    experiment_stop,
    experiments_for_storefront,
)
from shops.errors import ValidationFailed
from shops.records import experiment_mark
from shops.tenancy import shop_scope
from tests.factories import make_ended_experiment, make_experiment, make_order

pytestmark = pytest.mark.django_db

TWO_ARMS = [{"strategy": "model", "weight": 50}, {"strategy": "none", "weight": 50}]


def create(shop, **overrides) -> Experiment:
    fields = dict(shop=shop, name="Model vs nothing", block="bought_together", arms=TWO_ARMS, duration_days=14)
    fields.update(overrides)
    with shop_scope(shop):
        return experiment_create(**fields)


def test_a_test_is_scheduled_with_a_fixed_end_and_arm_keys(shop):
    experiment = create(shop)
    assert [arm["key"] for arm in experiment.arms] == ["A", "B"]
    assert experiment.state(timezone.now()) == "running"
    assert experiment.ends_at.date() == timezone.now().date() + dt.timedelta(days=14)
    later = create(shop, block="related", starts_on=timezone.now().date() + dt.timedelta(days=3))
    assert later.state(timezone.now()) == "scheduled"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"name": " "}, "name"),
        ({"block": "footer"}, "block"),
        ({"arms": [{"strategy": "model", "weight": 100}]}, "arms"),
        ({"arms": [{"strategy": "model", "weight": 60}, {"strategy": "none", "weight": 60}]}, "arms"),
        ({"arms": [{"strategy": "model", "weight": 50}, {"strategy": "model", "weight": 50}]}, "arms"),
        ({"arms": [{"strategy": "magic", "weight": 50}, {"strategy": "none", "weight": 50}]}, "arms.A.strategy"),
        ({"arms": [{"strategy": "model", "weight": 95}, {"strategy": "none", "weight": 5}]}, "arms.B.weight"),
        ({"duration_days": 3}, "duration_days"),
        ({"duration_days": 61}, "duration_days"),
        ({"duration_days": True}, "duration_days"),
        ({"starts_on": dt.date(2020, 1, 1)}, "starts_on"),
    ],
)
def test_bad_definitions_name_the_field_and_save_nothing(shop, overrides, field):
    with pytest.raises(ValidationFailed) as raised:
        create(shop, **overrides)
    assert field in raised.value.extra["fields"]
    assert Experiment.all_shops.count() == 0


def test_overlapping_tests_on_one_block_are_refused(shop, other_shop):
    first = create(shop, duration_days=14)
    with pytest.raises(ValidationFailed) as raised:
        create(shop, name="Second", starts_on=timezone.now().date() + dt.timedelta(days=7))
    assert "overlaps “Model vs nothing”" in raised.value.extra["fields"]["block"]
    assert Experiment.all_shops.filter(shop=shop).count() == 1
    create(shop, name="Other block", block="cart")  # another block is fine
    create(other_shop)  # another shop's block is its own
    after = create(shop, name="Afterwards", starts_on=first.ends_at.date())
    assert after.starts_at >= first.ends_at
    with shop_scope(shop):
        experiment_stop(shop=shop, experiment_id=after.pk)
    create(shop, name="Replaces the stopped one", starts_on=first.ends_at.date())


def test_assignment_is_deterministic_and_only_while_running(shop):
    experiment = create(shop)
    with shop_scope(shop):
        running = experiments_for_storefront()
    now = timezone.now().timestamp()
    seen = {
        experiment_assignment(running=running, block="bought_together", visitor=f"v{n}", now=now).arm
        for n in range(200)
    }
    assert seen == {"A", "B"}
    one = experiment_assignment(running=running, block="bought_together", visitor="v7", now=now)
    assert one == experiment_assignment(running=running, block="bought_together", visitor="v7", now=now)
    assert one.experiment_id == experiment.pk and one.strategy in ("model", "none")
    assert experiment_assignment(running=running, block="related", visitor="v7", now=now) is None
    assert experiment_assignment(running=running, block="bought_together", visitor="v7", now=now + 15 * 86400) is None
    assert experiment_assignment(running=running, block="bought_together", visitor="v7", now=now - 86400) is None


def test_exposures_count_for_running_tests_and_real_arms_only(shop):
    running = create(shop)
    with shop_scope(shop):
        ended = make_experiment(
            shop, block="cart", starts_at=timezone.now() - dt.timedelta(days=20), ends_at=timezone.now()
        )
        today = timezone.now().date()
        counted = experiment_exposures_record(
            shop=shop, exposures={(running.pk, "A"): 3, (running.pk, "Z"): 4, (ended.pk, "A"): 5}, day=today
        )
        experiment_exposures_record(shop=shop, exposures={(running.pk, "A"): 2}, day=today)
        rows = list(ExperimentDailyCount.objects.values_list("experiment_id", "arm", "exposures"))
    assert counted == 3 and rows == [(running.pk, "A", 5)]


def test_order_marks_are_read_from_each_platform_and_stored():
    from integrations.shopify.mapping import order_from_graphql, order_from_rest
    from integrations.woocommerce.mapping import order_from_woo

    assert (
        experiment_mark([{"name": "_basketry_experiment", "value": "12:B"}], key_field="name", value_field="value")
        == "12:B"
    )
    for junk in ("12:Z", "x:B", "12:B; drop table", ""):
        assert (
            experiment_mark([{"key": "_basketry_experiment", "value": junk}], key_field="key", value_field="value")
            == ""
        )
    rest, _, _ = order_from_rest(
        {
            "id": 5,
            "created_at": "2026-11-01T10:00:00Z",
            "line_items": [],
            "note_attributes": [{"name": "_basketry_experiment", "value": "3:A"}],
        }
    )
    graphql, _ = order_from_graphql(
        {
            "id": "gid://shopify/Order/6",
            "createdAt": "2026-11-01T10:00:00Z",
            "customAttributes": [{"key": "_basketry_experiment", "value": "3:B"}],
        },
        [],
    )
    woo, _, _ = order_from_woo(
        {
            "id": 7,
            "status": "completed",
            "date_created_gmt": "2026-11-01T10:00:00",
            "line_items": [],
            "meta_data": [{"id": 1, "key": "_basketry_experiment", "value": "3:C"}],
        }
    )
    assert (rest.experiment_mark, graphql.experiment_mark, woo.experiment_mark) == ("3:A", "3:B", "3:C")


def _finished(shop, *, visitors=(2000, 2000), orders=(200, 120), stopped=False) -> Experiment:
    with shop_scope(shop):
        experiment = make_ended_experiment(
            shop,
            visitors=visitors,
            orders=orders,
            stopped=stopped,
            arms=[{"key": "A", "strategy": "model", "weight": 50}, {"key": "B", "strategy": "none", "weight": 50}],
        )
        start = experiment.starts_at
        # Outside the window, unpaid, or another test's: never counted.
        make_order(shop, created_at=start - dt.timedelta(days=1), experiment_arm=f"{experiment.pk}:B")
        make_order(
            shop, created_at=start + dt.timedelta(days=1), status="cancelled", experiment_arm=f"{experiment.pk}:B"
        )
        make_order(shop, created_at=start + dt.timedelta(days=1), experiment_arm=f"{experiment.pk + 1}:B")
    return experiment


def test_results_of_a_finished_test_compare_each_arm_with_the_control(shop):
    experiment = _finished(shop)
    with shop_scope(shop):
        results = experiment_results_get(experiment=experiment)
    control, arm = results["arms"]
    assert (control.visitors, control.orders, arm.visitors, arm.orders) == (2000, 200, 2000, 120)
    assert control.revenue == pytest.approx(4000.0) and arm.revenue_per_visitor == pytest.approx(1.2)
    (comparison,) = results["comparisons"]
    assert comparison.difference == pytest.approx(-0.04) and comparison.significant and comparison.high < 0
    assert results["verdict"].startswith("No block converted worse than Basketry's model: -4.00 points")


def test_no_peeking_a_running_test_shows_visitors_only(shop):
    experiment = create(shop)
    with shop_scope(shop):
        experiment_exposures_record(shop=shop, exposures={(experiment.pk, "A"): 40}, day=timezone.now().date())
        make_order(shop, experiment_arm=f"{experiment.pk}:A")
        results = experiment_results_get(experiment=experiment)
    assert results["state"] == "running" and results["total_visitors"] == 40
    assert "arms" not in results and "verdict" not in results and "comparisons" not in results


def test_a_stopped_test_has_figures_but_no_verdict(shop):
    experiment = _finished(shop, stopped=True)
    with shop_scope(shop):
        results = experiment_results_get(experiment=experiment)
    assert results["state"] == "stopped" and results["verdict"].startswith("Stopped early: no verdict")


def test_a_lopsided_split_withholds_the_verdict(shop):
    experiment = _finished(shop, visitors=(2600, 1400))
    with shop_scope(shop):
        results = experiment_results_get(experiment=experiment)
    assert results["sample_ratio_mismatch"] and results["verdict"].startswith("No verdict")


@pytest.fixture
def trained(db):
    from tests.shops.dashboard_fixtures import trained_demo_shop

    return trained_demo_shop("ab.example", seed=9)


def _get(client, shop, **params):
    response = client.get("/api/storefront/v1/recommendations", {"shop": shop.domain, **params})
    return response


def test_the_storefront_serves_each_visitor_their_arm(client, trained, django_capture_on_commit_callbacks):
    shop, demo = trained
    anchor = demo.complementary_pairs[0][0]
    with django_capture_on_commit_callbacks(execute=True):
        experiment = create(
            shop,
            arms=[
                {"strategy": "model", "weight": 34},
                {"strategy": "popular", "weight": 33},
                {"strategy": "none", "weight": 33},
            ],
        )
    plain = _get(client, shop, type="bought_together", product_id=anchor).json()
    assert "experiment" not in plain and plain["items"]  # no visitor id (no consent): the model, uncounted
    model_ids = [item["product_id"] for item in plain["items"]]
    seen = {}
    for n in range(60):
        visitor = f"visitor-{n:04d}"
        body = _get(client, shop, type="bought_together", product_id=anchor, visitor=visitor).json()
        assert body["experiment"]["id"] == experiment.pk
        again = _get(client, shop, type="bought_together", product_id=anchor, visitor=visitor).json()
        assert again["experiment"] == body["experiment"] and again["items"] == body["items"]
        seen.setdefault(body["experiment"]["arm"], [item["product_id"] for item in body["items"]])
    assert set(seen) == {"A", "B", "C"}
    assert seen["A"] == model_ids
    assert seen["C"] == []
    from recommendations.models import ListKind, RecommendationList
    from shops.models import Product

    with shop_scope(shop):
        popular = RecommendationList.objects.get(kind=ListKind.POPULAR, anchor="").items
        external = dict(Product.objects.values_list("pk", "external_id"))
    expected = [external[item["product_id"]] for item in popular if external[item["product_id"]] != anchor]
    assert seen["B"] == expected[: len(seen["B"])] and seen["B"] != model_ids
    # Another block is not under test.
    assert "experiment" not in _get(client, shop, type="related", product_id=anchor, visitor="visitor-0001").json()
    assert _get(client, shop, type="related", product_id=anchor, visitor="bad id!").status_code == 400


def _visitors_in(experiment, arm_index: int, count: int) -> list[str]:
    weights = [arm["weight"] for arm in experiment.arms]
    candidates = (f"visitor-{n:05d}" for n in range(100_000))
    found = [v for v in candidates if arm_assign(salt=experiment.salt, visitor=v, weights=weights) == arm_index]
    return found[:count]


def _post_events(client, shop, events):
    import json
    import time

    from recommendations.storefront.page_tokens import page_token_sign
    from shops.services.shops import shop_storefront_token_key_get

    token = page_token_sign(
        key=shop_storefront_token_key_get(shop=shop), domain=shop.domain, expires=int(time.time()) + 3600
    )
    body = {"shop": shop.domain, "page_token": token, "events": events}
    return client.post("/api/storefront/v1/events", json.dumps(body), content_type="text/plain")


def test_exposures_count_only_what_the_servers_own_assignment_confirms_once_per_visitor(
    client, trained, django_capture_on_commit_callbacks, settings
):
    shop, demo = trained
    anchor = demo.complementary_pairs[0][0]
    with django_capture_on_commit_callbacks(execute=True):
        experiment = create(shop)
    in_a, (in_b, other_b) = _visitors_in(experiment, 0, 1)[0], _visitors_in(experiment, 1, 2)

    def exposure(visitor, arm, **overrides):
        event = {"type": "exposure", "block": "bought_together", "experiment": experiment.pk, "arm": arm}
        return {**event, "visitor": visitor, **overrides}

    posted = _post_events(
        client,
        shop,
        [
            exposure(in_a, "A"),
            exposure(in_b, "B"),
            exposure(other_b, "B"),
            exposure(in_a, "B"),  # the visitor is in A: a forged arm
            exposure(in_b, "B", block="related"),  # the test does not run on that block
            exposure(in_b, "B", experiment=experiment.pk + 1000),  # no such test
        ],
    )
    assert posted.status_code == 202 and posted.json() == {"stored": 3}
    replayed = _post_events(client, shop, [exposure(in_a, "A"), exposure(in_b, "B")])
    assert replayed.status_code == 202 and replayed.json() == {"stored": 0}  # each visitor counts once
    for bad in (exposure(in_a, "Q"), {k: v for k, v in exposure(in_a, "A").items() if k != "visitor"}):
        response = _post_events(client, shop, [bad])
        assert response.status_code == 400
    assert "visitor" in response.json()["error"]
    with shop_scope(shop):
        counts = dict(ExperimentDailyCount.objects.values_list("arm", "exposures"))
        assert counts == {"A": 1, "B": 2}
        with django_capture_on_commit_callbacks(execute=True):
            experiment_stop(shop=shop, experiment_id=experiment.pk)
    assert _post_events(client, shop, [exposure(other_b, "B")]).json() == {"stored": 0}  # stopped
    body = _get(client, shop, type="bought_together", product_id=anchor, visitor="visitor-0001").json()
    assert "experiment" not in body and body["items"]


def test_results_say_when_late_orders_may_still_change_them(shop):
    experiment = _finished(shop)
    with shop_scope(shop):
        fresh = experiment_results_get(experiment=experiment, now=experiment.ends_at + dt.timedelta(days=1))
        settled = experiment_results_get(experiment=experiment, now=experiment.ends_at + dt.timedelta(days=4))
    assert fresh["settling"] and not settled["settling"]
