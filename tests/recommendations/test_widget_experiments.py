"""A/B tests in real Chromium: without consent no visitor id and nothing counted; with consent a
stable arm, one exposure per visitor, the cart marked with the arm, and the "no block" arm hidden."""

from __future__ import annotations

import json

import pytest

from recommendations.engine.experiments import arm_assign
from recommendations.models import ExperimentDailyCount
from recommendations.services.experiments import experiment_create
from shops.tenancy import shop_scope
from tests.recommendations.test_widget import browser_page, demo_store  # noqa: F401 (fixtures)


def _visitor_for(experiment, arm_index: int) -> str:
    weights = [arm["weight"] for arm in experiment.arms]
    return next(
        f"testvisitor{n:06d}"
        for n in range(10_000)
        if arm_assign(salt=experiment.salt, visitor=f"testvisitor{n:06d}", weights=weights) == arm_index
    )


@pytest.mark.services("postgres", "chromium")
def test_a_consenting_visitor_keeps_one_arm_is_counted_once_and_marks_the_cart(
    live_server,
    demo_store,  # noqa: F811
    browser_page,  # noqa: F811
    monkeypatch,
):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "1")
    shop, anchor, _, _ = demo_store
    with shop_scope(shop):
        experiment = experiment_create(
            shop=shop,
            name="Model or nothing",
            block="bought_together",
            arms=[{"strategy": "model", "weight": 50}, {"strategy": "none", "weight": 50}],
            duration_days=14,
        )
    page, problems = browser_page
    recommendation_urls: list[str] = []
    cart_updates: list[dict] = []
    page.on(
        "request",
        lambda request: (
            recommendation_urls.append(request.url)
            if "/recommendations?" in request.url
            else cart_updates.append(json.loads(request.post_data or "{}"))
            if request.url.endswith("/cart/update.js")
            else None
        ),
    )
    product_url = f"{live_server.url}/demo/{shop.domain}/products/{anchor}"
    bundle = page.locator('[data-basketry="bought_together"]')

    def counts() -> dict[str, int]:
        with shop_scope(shop):
            return dict(ExperimentDailyCount.objects.values_list("arm", "exposures"))

    # No consent: no visitor id, the model's block, nothing counted or marked.
    page.goto(product_url)
    bundle.locator("section").wait_for()
    assert all("visitor=" not in url for url in recommendation_urls)
    assert page.evaluate("localStorage.getItem('bsk_v')") is None

    # Consent, and a visitor id that lands in the control arm (the model).
    page.locator("#consent").click()
    control_visitor = _visitor_for(experiment, 0)
    page.evaluate(f"localStorage.setItem('bsk_v', '{control_visitor}')")
    for _ in range(2):  # a second visit is the same visitor: same arm, not counted again
        page.goto(product_url)
        bundle.locator("section").wait_for()
        page.wait_for_timeout(200)
        page.evaluate("window.dispatchEvent(new Event('pagehide'))")
        page.wait_for_timeout(400)
    assert f"visitor={control_visitor}" in recommendation_urls[-1]
    assert counts() == {"A": 1}
    assert cart_updates == [{"attributes": {"_basketry_experiment": f"{experiment.pk}:A"}}]

    # Another visitor in the "no block" arm: nothing shown, still counted, cart marked B.
    page.evaluate(f"localStorage.setItem('bsk_v', '{_visitor_for(experiment, 1)}')")
    page.goto(product_url)
    page.locator('[data-basketry="related"] section').wait_for()
    for _ in range(30):
        if counts().get("B"):
            break
        page.evaluate("window.dispatchEvent(new Event('pagehide'))")
        page.wait_for_timeout(100)
    assert bundle.evaluate("element => element.hidden") is True
    assert counts() == {"A": 1, "B": 1}
    assert cart_updates[-1] == {"attributes": {"_basketry_experiment": f"{experiment.pk}:B"}}
    assert problems == []
