"""The dashboard embedded in Shopify admin, in real headless Chromium with no cookie kept between
requests (a private window's iframe): forms get a fresh ID token from App Bridge before they
submit, a page without one goes through the patch page and comes back with one.

Shopify's App Bridge script comes from its CDN, which tests never reach; a stand-in script is
served in its place that does what Shopify documents App Bridge to do here: `shopify.idToken()`
resolves to a fresh token, and on the patch page it reloads `shopify-reload` with `id_token`.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from recommendations.models import MerchantRule
from shops.tenancy import shop_scope
from tests.browser import ARTIFACTS, off_the_browser_loop
from tests.conftest import CHROMIUM
from tests.factories import make_product, make_shop
from tests.integrations.shopify.conftest import id_token
from tests.recommendations.test_widget import CHROMIUM_ARGS, WCAG_21_AA

API_KEY = "embedded-browser-app"
SECRET = "embedded-browser-secret-of-32-bytes!"
DOMAIN = "embedded-browser.myshopify.com"
HOST = "YWRtaW4uc2hvcGlmeS5jb20vc3RvcmUvZW1iZWRkZWQ"

APP_BRIDGE_STAND_IN = """
window.shopify = { idToken: function () { return Promise.resolve(%(token)s); } };
(function () {
  var here = new URL(window.location.href);
  if (here.pathname === "/shopify/patch-id-token") {
    var target = new URL(here.searchParams.get("shopify-reload"), window.location.origin);
    target.searchParams.set("id_token", %(token)s);
    window.location.replace(target.toString());
  }
})();
"""


@pytest.mark.services("postgres", "chromium")
def test_embedded_pages_and_forms_work_on_id_tokens_alone(live_server, transactional_db, settings):
    playwright_api = pytest.importorskip("playwright.sync_api")
    axe = pytest.importorskip("axe_playwright_python.sync_playwright").Axe()
    settings.SHOPIFY_API_KEY = API_KEY
    settings.SHOPIFY_API_SECRET = SECRET
    shop = make_shop(domain=DOMAIN, platform="shopify")
    with shop_scope(shop):
        product = make_product(shop, external_id="8001", title="Embedded teapot")
    tokens_served: list[str] = []

    def app_bridge(route):
        token = id_token(DOMAIN, secret=SECRET, audience=API_KEY)
        tokens_served.append(token)
        route.fulfill(
            status=200,
            content_type="application/javascript",
            body=APP_BRIDGE_STAND_IN % {"token": repr(token).replace("'", '"')},
        )

    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1100, "height": 900})
        context.route("https://cdn.shopify.com/shopifycloud/app-bridge.js", app_bridge)
        page = context.new_page()
        problems: list[str] = []
        page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: problems.append(str(error)))
        origins: set[str] = set()
        page.on("request", lambda request: origins.add(urlsplit(request.url).netloc))

        # Shopify admin opens a page with a token in its URL.
        first = id_token(DOMAIN, secret=SECRET, audience=API_KEY)
        page.goto(f"{live_server.url}/dashboard/rules/new?embedded=1&shop={DOMAIN}&host={HOST}&id_token={first}")
        assert page.locator("h1").inner_text() == "New rule"
        results = axe.run(page, options={"runOnly": {"type": "tag", "values": WCAG_21_AA}})
        assert results.violations_count == 0, results.generate_snapshot()

        # Nothing is kept between requests: every submission must bring its own token.
        page.select_option("#rule-kind", "exclude")
        page.fill("#product_ids", product.external_id)
        context.clear_cookies()
        served_before = len(tokens_served)
        page.locator("button", has_text="Save rule").click()
        page.wait_for_url("**/dashboard/rules?*done=created*")
        # The redirect after the POST had no token: the patch page fetched one and came back.
        assert len(tokens_served) > served_before
        landed = parse_qs(urlsplit(page.url).query)
        assert landed["embedded"] == ["1"] and landed["shop"] == [DOMAIN] and landed["host"] == [HOST]
        assert "id_token" in landed
        assert "Rule saved" in page.locator(".notice").inner_text()
        assert off_the_browser_loop(lambda: MerchantRule.all_shops.filter(shop=shop).count()) == 1

        # A menu link also goes through the patch page and arrives authenticated.
        context.clear_cookies()
        page.get_by_role("navigation", name="Dashboard").get_by_role("link", name="Recommendations").click()
        page.wait_for_url("**/dashboard/recommendations?*id_token=*")
        assert page.locator("h1").inner_text() == "Recommendations"
        # And a search (a GET form) keeps the embedded parameters and carries a token.
        page.fill("#q", "teapot")
        context.clear_cookies()
        page.locator("button", has_text="Search").click()
        page.wait_for_url("**/dashboard/recommendations?*q=teapot*")
        assert page.locator(".results").inner_text().startswith("Embedded teapot")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "dashboard-embedded.png"), full_page=True)
        assert problems == []
        assert origins <= {urlsplit(live_server.url).netloc, "cdn.shopify.com"}
        browser.close()
