"""The dashboard in real headless Chromium: Overview (with its live progress), Insights (SVG charts,
model quality) and Privacy & fairness (its forms); no console errors, WCAG audit on each page,
keyboard use, screenshots in test-artifacts/."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.utils import timezone

from shops.dashboard.access import dashboard_link_create
from shops.tenancy import shop_scope
from tests.browser import ARTIFACTS, off_the_browser_loop
from tests.conftest import CHROMIUM
from tests.recommendations.test_widget import CHROMIUM_ARGS, WCAG_21_AA


class Browser:
    """One Chromium page that records console errors and every URL it requests."""

    def __init__(self, playwright) -> None:
        self.browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        self.page = self.browser.new_page(viewport={"width": 1100, "height": 900})
        self.problems: list[str] = []
        self.requests: list[str] = []
        self.page.on("console", lambda message: self.problems.append(message.text) if message.type == "error" else None)
        self.page.on("pageerror", lambda error: self.problems.append(str(error)))
        self.page.on("request", lambda request: self.requests.append(request.url))

    def audit(self, axe, name: str) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"dashboard-{name}.png"), full_page=True)
        results = axe.run(self.page, options={"runOnly": {"type": "tag", "values": WCAG_21_AA}})
        assert results.violations_count == 0, f"{name}:\n{results.generate_snapshot()}"
        assert results.response["passes"], name  # the audit really ran

    def tab_to(self, predicate: str, *, limit: int = 60) -> None:
        """Press Tab until the focused element satisfies a JavaScript predicate on `element`."""
        for _ in range(limit):
            self.page.keyboard.press("Tab")
            if self.page.evaluate(f"(element => {predicate})(document.activeElement)"):
                return
        raise AssertionError(f"never reached {predicate} with the keyboard")


def _trained_shop(domain: str, seed: int):
    from shops.demo.generator import demo_shop_generate
    from shops.services.demo import demo_shop_load, demo_traffic_simulate
    from tests.factories import make_shop

    shop = make_shop(domain=domain)
    with shop_scope(shop):
        demo_shop_load(shop=shop, demo=demo_shop_generate(seed=seed, product_count=40, order_count=600))
        demo_traffic_simulate(shop=shop, seed=seed)  # daily figures for the charts to draw
    call_command("train", shop.domain, stdout=io.StringIO())
    return shop


def _enter(page, live_server, shop) -> None:
    token = dashboard_link_create(shop_id=shop.pk).split("token=", 1)[1]
    page.goto(f"{live_server.url}/dashboard/enter?token={token}")
    assert page.url == f"{live_server.url}/dashboard/"


# PostgreSQL: the live server answers from several threads.
@pytest.mark.services("postgres", "chromium")
def test_overview_and_insights_render_accessibly_with_charts_and_model_quality(live_server, transactional_db):
    playwright_api = pytest.importorskip("playwright.sync_api")
    axe = pytest.importorskip("axe_playwright_python.sync_playwright").Axe()
    shop = _trained_shop("dash-browser.example", seed=7)

    with playwright_api.sync_playwright() as playwright:
        chromium = Browser(playwright)
        page = chromium.page
        _enter(page, live_server, shop)

        assert page.locator("h1").inner_text() == "Overview"
        assert "dash-browser.example" in page.locator("#connection + p").inner_text()
        assert page.locator(".kpis dt").all_inner_texts()[:2] == ["Impressions", "Click-through rate"]
        assert page.locator("#dashboard-progress").count() == 0  # nothing runs: no polling
        chromium.audit(axe, "overview")

        page.get_by_role("link", name="Insights").click()
        page.wait_for_url(f"{live_server.url}/dashboard/insights")
        assert page.locator("h1").inner_text() == "Insights"
        assert page.locator("#daily-figures tbody tr").count() == 30
        charts = page.locator('svg[role="img"]')
        assert charts.count() == 4
        for name in ("Impressions per day", "Clicks and add-to-carts per day"):
            chart = page.get_by_role("img", name=name)
            assert chart.is_visible() and chart.bounding_box()["width"] > 300
        assert page.locator("svg polyline").count() >= 4
        quality = page.locator("#model-quality")
        assert quality.locator("tr.training-run").count() == 1
        assert "first version" in quality.locator("tr.training-run").inner_text()
        list_rows = quality.locator("tbody tr:not(.training-run)").all_inner_texts()
        assert any(row.startswith("Frequently bought together") and "hit rate@5" in row for row in list_rows)
        assert any(row.startswith("You may also like") and "NDCG@10" in row for row in list_rows)
        chromium.audit(axe, "insights")

        # The period, by keyboard: focus the selector, choose 7 days, submit with Enter.
        chromium.tab_to("element.id === 'period-days'")
        page.keyboard.press("Home")  # the first option: 7 days
        chromium.tab_to("element.textContent === 'Show'")
        page.keyboard.press("Enter")
        page.wait_for_url(f"{live_server.url}/dashboard/insights?days=7")
        assert page.locator("#daily-figures tbody tr").count() == 7
        assert "over the last 7 days" in page.get_by_role("img", name="Impressions per day").text_content()

        # Keyboard: the navigation is reachable with Tab and followed with Enter.
        chromium.tab_to("element.textContent === 'Privacy & fairness'")
        page.keyboard.press("Enter")
        page.wait_for_url(f"{live_server.url}/dashboard/privacy")
        assert page.locator("h1").inner_text() == "Privacy & fairness"
        chromium.audit(axe, "privacy")
        assert chromium.problems == []
        assert all(url.startswith(live_server.url) for url in chromium.requests), "requested another origin"
        chromium.browser.close()


@pytest.mark.services("postgres", "chromium")
def test_privacy_settings_are_changed_through_the_forms(live_server, transactional_db, settings):
    from shops.models import Shop
    from tests.factories import make_shop

    playwright_api = pytest.importorskip("playwright.sync_api")
    axe = pytest.importorskip("axe_playwright_python.sync_playwright").Axe()
    settings.EVENT_RETENTION_DAYS = 30
    shop = make_shop(domain="dash-privacy.example")

    def stored() -> dict:
        return off_the_browser_loop(lambda: Shop.objects.get(pk=shop.pk).settings)

    with playwright_api.sync_playwright() as playwright:
        chromium = Browser(playwright)
        page = chromium.page
        _enter(page, live_server, shop)
        page.goto(f"{live_server.url}/dashboard/privacy")

        page.get_by_label("Cap: at most a few items of one category or brand per list").check()
        page.get_by_label("With a cap, group by").select_option("vendor")
        page.get_by_label("With a cap, most items of one group per list (1 to 12)").fill("3")
        page.get_by_role("button", name="Save diversity setting").click()
        page.wait_for_url(f"{live_server.url}/dashboard/privacy?saved=diversity")

        notice = page.get_by_role("status")
        assert notice.inner_text().startswith("Saved. The diversity setting applies from the next training")
        assert "Diversity setting: cap, at most 3 per vendor" in page.locator("#diversity + p").inner_text()
        assert page.get_by_label("Cap: at most a few items of one category or brand per list").is_checked()
        assert stored()["diversity"] == {
            "strategy": "cap",
            "group": "vendor",
            "max_per_group": 3,
        }
        chromium.audit(axe, "privacy-saved")

        # A retention out of range, typed and sent with the keyboard: the error is shown with the field.
        chromium.tab_to("element.id === 'retention-event-days'")
        page.keyboard.press("Control+A")
        page.keyboard.type("0")
        page.keyboard.press("Enter")
        page.wait_for_load_state()
        error = page.locator("#error-event_days")
        error.wait_for()
        assert error.inner_text() == "a whole number of days from 1 to 30"
        field = page.get_by_label("Days to keep raw widget events (1 to 30)")
        assert field.get_attribute("aria-invalid") == "true" and field.input_value() == "0"
        assert field.get_attribute("aria-describedby") == "error-event_days"
        assert "retention" not in stored()
        chromium.audit(axe, "privacy-error")

        field.fill("12")
        page.get_by_role("button", name="Save retention").click()
        page.wait_for_url(f"{live_server.url}/dashboard/privacy?saved=retention")
        assert "kept 12 days" in page.get_by_role("status").inner_text()
        assert stored()["retention"] == {"event_days": 12}
        # The refused form answered 400, which Chromium logs once for the document; nothing else.
        assert chromium.problems == ["Failed to load resource: the server responded with a status of 400 (Bad Request)"]
        assert all(url.startswith(live_server.url) for url in chromium.requests), "requested another origin"
        chromium.browser.close()


@pytest.mark.services("postgres", "chromium")
def test_the_overview_follows_a_sync_until_it_finishes(live_server, transactional_db, monkeypatch):
    from integrations.models import SyncRun
    from tests.factories import make_shop, make_sync_run

    playwright_api = pytest.importorskip("playwright.sync_api")
    expect = playwright_api.expect
    axe = pytest.importorskip("axe_playwright_python.sync_playwright").Axe()
    monkeypatch.setattr("shops.dashboard.views.overview.PROGRESS_POLL_MILLISECONDS", 300)  # a quick test
    shop = make_shop(domain="dash-progress.example")
    with shop_scope(shop):
        run = make_sync_run(shop, status="running", checkpoint={"phase": "products"}, products_synced=10)

    def update(**fields) -> None:
        def write() -> None:
            with shop_scope(shop):
                SyncRun.objects.filter(pk=run.pk).update(**fields)

        off_the_browser_loop(write)

    with playwright_api.sync_playwright() as playwright:
        chromium = Browser(playwright)
        page = chromium.page
        _enter(page, live_server, shop)
        region = page.locator("#dashboard-progress")
        assert region.get_attribute("aria-live") == "polite"
        assert region.inner_text() == "Sync running (full): reading products, 10 products and 0 orders so far."
        assert "running" in page.locator("#overview-connection").inner_text()
        chromium.audit(axe, "overview-progress")
        page.evaluate("window.sameDocument = true")  # gone if the page reloads

        update(checkpoint={"phase": "orders"}, orders_synced=50)
        expect(region).to_have_text("Sync running (full): reading orders, 10 products and 50 orders so far.")

        update(status=SyncRun.Status.SUCCEEDED, finished_at=timezone.now())
        expect(region).to_have_text("Sync finished: 10 products and 50 orders.")
        expect(page.locator("#dashboard-progress-note")).to_have_text("Done: the sections below are up to date.")
        expect(page.locator("#overview-connection")).to_contain_text("succeeded, 10 products and 50 orders")
        assert page.evaluate("window.sameDocument") is True  # the sections were refreshed in place
        chromium.audit(axe, "overview-progress-done")

        polls = sum("/dashboard/progress" in url for url in chromium.requests)
        page.wait_for_timeout(1500)  # five polling intervals
        assert sum("/dashboard/progress" in url for url in chromium.requests) == polls, "still polling when done"
        assert chromium.problems == []
        assert all(url.startswith(live_server.url) for url in chromium.requests), "requested another origin"
        chromium.browser.close()
