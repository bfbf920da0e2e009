"""The Experiments page: create a test with inline errors (overlaps included), read a running
test's visitors only, a finished test's results and verdict, stop one; one shop only."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from recommendations.models import Experiment
from shops.tenancy import shop_scope
from tests.factories import make_ended_experiment, make_experiment, make_shop
from tests.shops.dashboard_fixtures import sign_in

pytestmark = pytest.mark.django_db

FORM = {
    "name": "Model or best sellers",
    "block": "bought_together",
    "strategy_A": "model",
    "weight_A": "50",
    "strategy_B": "popular",
    "weight_B": "50",
    "strategy_C": "",
    "weight_C": "",
    "duration_days": "14",
    "starts_on": "",
}


@pytest.fixture
def merchant(client):
    shop = make_shop(domain="tests.example")
    sign_in(client, shop)
    return shop


def experiments_of(shop) -> list[Experiment]:
    with shop_scope(shop):
        return list(Experiment.objects.order_by("pk"))


def test_a_test_is_created_from_the_form(client, merchant):
    response = client.post("/dashboard/experiments", FORM)
    assert response.status_code == 302 and "done=created" in response["Location"]
    (experiment,) = experiments_of(merchant)
    assert [(arm["strategy"], arm["weight"]) for arm in experiment.arms] == [("model", 50), ("popular", 50)]
    html = client.get(response["Location"]).content.decode()
    assert "Model or best sellers" in html and "Running" in html
    assert "Orders and the comparison are shown when the test ends" in html and "Verdict" not in html


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"name": ""}, "a name of 1 to 120 characters"),
        ({"weight_A": "70"}, "must add up to 100%"),
        ({"weight_A": "5", "weight_B": "95"}, "a whole percentage from 10 to 90"),
        ({"strategy_B": "model"}, "each arm must show something different"),
        ({"duration_days": "365"}, "from 7 to 60"),
        ({"duration_days": "two weeks"}, "from 7 to 60"),
        ({"starts_on": "soon"}, "a date as YYYY-MM-DD"),
    ],
)
def test_bad_tests_get_inline_errors_and_nothing_is_saved(client, merchant, changes, message):
    response = client.post("/dashboard/experiments", {**FORM, **changes})
    html = response.content.decode()
    assert response.status_code == 400 and message in html and 'aria-invalid="true"' in html
    assert "The test was not created" in html
    assert experiments_of(merchant) == []


def test_an_overlapping_test_on_the_same_block_is_refused_inline(client, merchant):
    client.post("/dashboard/experiments", FORM)
    later = (timezone.now() + dt.timedelta(days=5)).date().isoformat()
    response = client.post("/dashboard/experiments", {**FORM, "name": "Second", "starts_on": later})
    assert response.status_code == 400 and "overlaps “Model or best sellers”" in response.content.decode()
    assert len(experiments_of(merchant)) == 1
    other_block = client.post("/dashboard/experiments", {**FORM, "name": "Cart test", "block": "cart"})
    assert other_block.status_code == 302 and len(experiments_of(merchant)) == 2


def test_a_finished_test_shows_results_and_a_verdict(client, merchant):
    with shop_scope(merchant):
        make_ended_experiment(merchant, name="Finished", visitors=(3000, 3000), orders=(300, 390))
    html = client.get("/dashboard/experiments").content.decode()
    assert "Finished" in html and "Verdict:" in html
    assert "Best sellers with your rules (no model) converted better than Basketry&#x27;s model: +3.00 points" in html
    assert "10.00%" in html and "13.00%" in html  # conversion of each arm


def test_stopping_a_test_gives_up_the_verdict(client, merchant):
    client.post("/dashboard/experiments", FORM)
    (experiment,) = experiments_of(merchant)
    response = client.post(f"/dashboard/experiments/{experiment.pk}/stop")
    assert response.status_code == 302
    (experiment,) = experiments_of(merchant)
    assert experiment.stopped_at is not None
    assert "Stopped early: no verdict" in client.get("/dashboard/experiments").content.decode()


def test_another_shops_tests_are_invisible_and_untouchable(client, merchant):
    other = make_shop(domain="other-tests.example")
    with shop_scope(other):
        theirs = make_experiment(other, name="Their secret test")
    html = client.get("/dashboard/experiments").content.decode()
    assert "Their secret test" not in html
    assert client.post(f"/dashboard/experiments/{theirs.pk}/stop").status_code == 404
    assert client.post("/dashboard/experiments/999999/stop").status_code == 404
    assert Experiment.all_shops.get(pk=theirs.pk).stopped_at is None
    # Their running test on the same block does not block ours.
    assert client.post("/dashboard/experiments", FORM).status_code == 302


def test_a_session_post_needs_the_csrf_token(merchant):
    strict = Client(enforce_csrf_checks=True)
    sign_in(strict, merchant)
    assert strict.post("/dashboard/experiments", FORM).status_code == 403
    assert experiments_of(merchant) == []
