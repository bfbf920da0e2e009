"""The dashboard's overview in real headless Chromium: renders, no console errors, WCAG audit."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

from shops.dashboard.access import dashboard_link_create
from shops.tenancy import shop_scope
from tests.conftest import CHROMIUM
from tests.recommendations.test_widget import CHROMIUM_ARGS, WCAG_21_AA

ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts"


# PostgreSQL: the live server answers from several threads.
@pytest.mark.services("postgres", "chromium")
def test_the_overview_renders_accessibly_from_a_signed_link(live_server, transactional_db, monkeypatch):
    from shops.demo.generator import demo_shop_generate
    from shops.services.demo import demo_shop_load
    from tests.factories import make_shop

    playwright_api = pytest.importorskip("playwright.sync_api")
    axe = pytest.importorskip("axe_playwright_python.sync_playwright").Axe()
    shop = make_shop(domain="dash-browser.example")
    with shop_scope(shop):
        demo_shop_load(shop=shop, demo=demo_shop_generate(seed=7, product_count=40, order_count=600))
    call_command("train", shop.domain, stdout=io.StringIO())
    token = dashboard_link_create(shop_id=shop.pk).split("token=", 1)[1]

    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        problems: list[str] = []
        page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: problems.append(str(error)))
        requests: list[str] = []
        page.on("request", lambda request: requests.append(request.url))

        page.goto(f"{live_server.url}/dashboard/enter?token={token}")

        assert page.url == f"{live_server.url}/dashboard/"
        assert page.locator("h1").inner_text() == "Overview"
        assert "dash-browser.example" in page.locator("#connection + p").inner_text()
        assert page.locator(".kpis dt").all_inner_texts()[:2] == ["Impressions", "Click-through rate"]
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "dashboard-overview.png"), full_page=True)
        results = axe.run(page, options={"runOnly": {"type": "tag", "values": WCAG_21_AA}})
        assert results.violations_count == 0, results.generate_snapshot()
        page.get_by_role("link", name="Insights").click()
        page.wait_for_url(f"{live_server.url}/dashboard/insights")
        assert page.locator("h1").inner_text() == "Insights"
        assert page.locator("table.numbers tbody tr").count() == 30
        page.screenshot(path=str(ARTIFACTS / "dashboard-insights.png"), full_page=True)
        results = axe.run(page, options={"runOnly": {"type": "tag", "values": WCAG_21_AA}})
        assert results.violations_count == 0, results.generate_snapshot()

        # Keyboard: the navigation is reachable with Tab and followed with Enter.
        page.keyboard.press("Tab")
        for _ in range(5):
            if page.evaluate("document.activeElement.textContent") == "Privacy & fairness":
                break
            page.keyboard.press("Tab")
        page.keyboard.press("Enter")
        page.wait_for_url(f"{live_server.url}/dashboard/privacy")
        assert page.locator("h1").inner_text() == "Privacy & fairness"
        page.screenshot(path=str(ARTIFACTS / "dashboard-privacy.png"), full_page=True)
        results = axe.run(page, options={"runOnly": {"type": "tag", "values": WCAG_21_AA}})
        assert results.violations_count == 0, results.generate_snapshot()
        assert problems == []
        assert all(url.startswith(live_server.url) for url in requests), "the dashboard requested another origin"
        browser.close()
