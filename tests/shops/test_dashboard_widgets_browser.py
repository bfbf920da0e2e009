"""The dashboard's Widgets page in real headless Chromium: live preview, saving, the storefront
following the saved settings, inline errors, keyboard access and a WCAG audit."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from recommendations.selectors import widget_preview_product_get
from recommendations.services.widgets import widget_settings_get
from shops.dashboard.access import dashboard_link_create
from shops.models import Shop
from shops.tenancy import shop_scope
from tests.browser import ARTIFACTS
from tests.conftest import CHROMIUM
from tests.recommendations.test_widget import CHROMIUM_ARGS, WCAG_21_AA

REFUSED_SAVE_LOG = "Failed to load resource: the server responded with a status of 400 (Bad Request)"


def stored_related(shop: Shop) -> dict:
    return widget_settings_get(shop=Shop.objects.get(pk=shop.pk))["related"]


# PostgreSQL: the live server answers the page and the widget's requests from several threads.
@pytest.mark.services("postgres", "chromium")
def test_the_widgets_page_previews_saves_and_the_storefront_follows(
    live_server, transactional_db, settings, monkeypatch
):
    from shops.demo.generator import demo_shop_generate
    from shops.services.demo import demo_shop_load
    from tests.factories import make_shop

    playwright_api = pytest.importorskip("playwright.sync_api")
    axe = pytest.importorskip("axe_playwright_python.sync_playwright").Axe()
    settings.DEMO_STOREFRONT = True
    # The browser's event loop runs in this thread; the ORM reads below are plain, blocking reads.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "1")
    shop = make_shop(domain="widgets-browser.localhost")
    with shop_scope(shop):
        demo_shop_load(shop=shop, demo=demo_shop_generate(seed=8, product_count=50, order_count=900))
        sample = widget_preview_product_get()
    call_command("train", shop.domain, stdout=io.StringIO())
    token = dashboard_link_create(shop_id=shop.pk).split("token=", 1)[1]
    default_title = stored_related(shop)["title"]

    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        problems: list[str] = []
        page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: problems.append(str(error)))
        requests: list[str] = []
        page.on("request", lambda request: requests.append(request.url))

        page.goto(f"{live_server.url}/dashboard/enter?token={token}")
        page.get_by_role("link", name="Widgets").click()
        page.wait_for_url(f"{live_server.url}/dashboard/widgets")
        assert page.locator("h1").inner_text() == "Widgets"

        # The preview is the real widget on the shop's sample product, before anything is saved.
        preview = page.locator('[data-preview-of="related-form"]')
        preview.locator("section li").first.wait_for()
        assert preview.locator("h2").inner_text() == default_title
        page.fill("#related-title", "Picked to go with it")
        page.fill("#related-items", "2")
        page.fill("#related-accent", "#1f4f8a")
        page.select_option("#related-layout", "list")
        preview.locator("h2", has_text="Picked to go with it").wait_for()
        page.wait_for_function(
            "document.querySelectorAll('[data-preview-of=\"related-form\"] section li').length === 2"
        )
        assert "bsk-list" in preview.get_attribute("class")
        accent = preview.evaluate("block => getComputedStyle(block).getPropertyValue('--basketry-accent').trim()")
        assert accent == "#1f4f8a"
        assert stored_related(shop)["title"] == default_title, "the preview saved something"

        # Unticking the box hides the preview and says why.
        page.uncheck("#related-enabled")
        assert preview.is_hidden()
        assert "Turned off" in page.locator("#related [data-preview-note]").inner_text()
        page.check("#related-enabled")

        # The other previews load as they near the viewport, like blocks on a storefront.
        for kind in ("bought_together", "cart"):
            other = page.locator(f'[data-preview-of="{kind}-form"]')
            other.scroll_into_view_if_needed()
            other.locator("section li").first.wait_for()
        # Clicking in a preview neither follows the product link nor adds to a cart.
        preview.locator("li a").first.click()
        page.locator('[data-preview-of="bought_together-form"] button').click()
        assert page.url == f"{live_server.url}/dashboard/widgets"

        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "dashboard-widgets.png"), full_page=True)
        results = axe.run(page, options={"runOnly": {"type": "tag", "values": WCAG_21_AA}})
        assert results.violations_count == 0, results.generate_snapshot()

        # Save a new title and item count.
        page.fill("#related-title", "Shoppers also chose")
        page.fill("#related-items", "3")
        page.select_option("#related-layout", "grid")
        page.locator("#related-form button[type=submit]").click()
        page.wait_for_url("**/dashboard/widgets?saved=related")
        assert "Saved “Related products”" in page.locator(".notice").inner_text()
        saved = stored_related(shop)
        assert saved["title"] == "Shoppers also chose" and saved["items"] == 3 and saved["accent"] == "#1f4f8a"

        # The demo storefront (no data-limit on its blocks) shows the saved title and count at once.
        page.goto(f"{live_server.url}/demo/{shop.domain}/products/{sample.external_id}")
        related = page.locator('[data-basketry="related"] section')
        related.locator("li").first.wait_for()
        assert related.locator("h2").inner_text() == "Shoppers also chose"
        assert related.locator("li").count() == 3
        button_colour = page.locator('[data-basketry="related"]').evaluate(
            "block => getComputedStyle(block).getPropertyValue('--basketry-accent').trim()"
        )
        assert button_colour == "#1f4f8a"

        # A bad value: the form comes back with the message next to the field, nothing saved.
        page.goto(f"{live_server.url}/dashboard/widgets")
        page.fill("#cart-accent", "#ffcc00")
        page.fill("#cart-items", "13")
        page.locator("#cart-form button[type=submit]").click()
        page.locator("#cart-accent-error").wait_for()
        assert "4.5:1" in page.locator("#cart-accent-error").inner_text()
        assert page.locator("#cart-items-error").is_visible()
        assert page.get_attribute("#cart-accent", "aria-invalid") == "true"
        assert "cart-accent-error" in page.get_attribute("#cart-accent", "aria-describedby")
        assert page.input_value("#cart-accent") == "#ffcc00"
        assert widget_settings_get(shop=Shop.objects.get(pk=shop.pk))["cart"]["accent"] != "#ffcc00"
        results = axe.run(page, options={"runOnly": {"type": "tag", "values": WCAG_21_AA}})
        assert results.violations_count == 0, results.generate_snapshot()

        # Keyboard: every control of a form is reached with Tab, in order, and saving works from it.
        page.goto(f"{live_server.url}/dashboard/widgets")
        page.locator("#bought_together-enabled").focus()
        reached = []
        for _ in range(12):
            reached.append(page.evaluate("document.activeElement.id || document.activeElement.type"))
            if reached[-1] == "submit":
                break
            page.keyboard.press("Tab")
        assert reached == [
            "bought_together-enabled",
            "bought_together-title",
            "bought_together-items",
            "bought_together-layout",
            "bought_together-accent",
            "color",
            "bought_together-text",
            "color",
            "submit",
        ]
        page.keyboard.press("Enter")
        page.wait_for_url("**/dashboard/widgets?saved=bought_together")

        # Chromium logs the refused save's 400 answer itself; nothing else may reach the console.
        assert [problem for problem in problems if problem != REFUSED_SAVE_LOG] == []
        assert all(url.startswith(live_server.url) for url in requests), "the page requested another origin"
        browser.close()
