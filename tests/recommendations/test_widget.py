"""The storefront widget in real headless Chromium, on the demo storefront served by the app."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

from shops.demo.generator import demo_shop_generate
from shops.models import Product
from shops.services.demo import demo_shop_load
from shops.tenancy import shop_scope
from tests.conftest import CHROMIUM

WIDGET = Path(settings.BASE_DIR) / "recommendations" / "static" / "basketry" / "widget.js"
ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def test_widget_fits_the_5_kb_gzip_budget():
    assert len(gzip.compress(WIDGET.read_bytes(), compresslevel=9)) <= 5 * 1024


@pytest.fixture
def demo_store(transactional_db, settings):
    from tests.factories import make_shop

    settings.DEMO_STOREFRONT = True
    shop = make_shop(domain="widget-demo.localhost")
    demo = demo_shop_generate(seed=12, product_count=60, order_count=1200)
    with shop_scope(shop):
        demo_shop_load(shop=shop, demo=demo)
        sellable = set(Product.objects.filter(status="published", in_stock=True).values_list("external_id", flat=True))
        # Read now: the browser's event loop forbids ORM calls while it runs.
        titles = dict(Product.objects.values_list("external_id", "title"))
    call_command("train", shop.domain, stdout=io.StringIO())
    anchor, complement = next((a, b) for a, b in demo.complementary_pairs if {a, b} <= sellable)
    return shop, anchor, complement, titles


@pytest.fixture
def browser_page():
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        problems: list[str] = []
        page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: problems.append(str(error)))
        yield page, problems
        browser.close()


# PostgreSQL: the live server answers the widget's parallel requests from several threads, which
# an in-memory SQLite connection shared between threads cannot do reliably.
@pytest.mark.services("postgres", "chromium")
def test_blocks_render_explain_and_add_to_cart(live_server, demo_store, browser_page):
    shop, anchor, complement, titles = demo_store
    page, problems = browser_page
    ARTIFACTS.mkdir(exist_ok=True)
    requests = []
    page.on("request", lambda request: requests.append(request.url))

    page.goto(f"{live_server.url}/demo/{shop.domain}/products/{anchor}")
    bundle = page.locator('[data-basketry="bought_together"] section')
    bundle.wait_for()
    titles_shown = bundle.locator("li a span").all_inner_texts()
    assert titles[complement] in titles_shown
    assert 1 <= len(titles_shown) <= 3
    assert bundle.locator("h2").inner_text() == "Frequently bought together"
    assert "Total:" in bundle.locator(".t").inner_text()

    # "Why this?" opens from the keyboard and shows the evidence.
    summary = bundle.locator("summary").first
    summary.focus()
    page.keyboard.press("Enter")
    details = bundle.locator("details").first
    assert details.get_attribute("open") is not None
    assert "Bought together in" in details.locator("p").inner_text()

    # Unticking one item changes what is sent; the request carries the block's mark.
    boxes = bundle.locator("input[type=checkbox]")
    assert boxes.first.get_attribute("aria-label") == f"Include {titles_shown[0]}"
    boxes.first.uncheck()
    with page.expect_request(lambda request: request.url.endswith("/cart/add.js")) as caught:
        bundle.locator("button").click()
    body = json.loads(caught.value.post_data)
    assert len(body["items"]) == len(titles_shown) - 1
    assert all(item["properties"]["_basketry"] == "bought_together" for item in body["items"])
    page.locator('[role="status"]', has_text="Added to cart").wait_for()

    related = page.locator('[data-basketry="related"] section li')
    related.first.wait_for()
    assert related.count() >= 1
    # The page shows the product's bought-together block too: no product is in both.
    assert any("type=related" in url and "beside=bought_together" in url for url in requests)
    together = set(page.locator('[data-basketry="bought_together"] section li a span').all_inner_texts())
    assert together and not together & set(related.locator("a span").all_inner_texts())
    page.screenshot(path=str(ARTIFACTS / "widget-product-page.png"), full_page=True)

    page.goto(f"{live_server.url}/demo/{shop.domain}/cart")
    cart_block = page.locator('[data-basketry="cart"] section li a span')
    cart_block.first.wait_for()
    cart_titles = {titles[item["id"]] for item in body["items"]}
    assert not cart_titles & set(cart_block.all_inner_texts())
    page.screenshot(path=str(ARTIFACTS / "widget-cart-page.png"), full_page=True)

    assert problems == []
    assert all(url.startswith(live_server.url) for url in requests), "the widget requested another origin"


# PostgreSQL: the live server answers the widget's parallel requests from several threads, which
# an in-memory SQLite connection shared between threads cannot do reliably.
@pytest.mark.services("postgres", "chromium")
def test_nothing_loads_before_the_block_nears_the_viewport_and_nothing_shifts(live_server, demo_store, browser_page):
    shop, anchor, _, _ = demo_store
    page, problems = browser_page
    api_calls = []
    page.on("request", lambda request: api_calls.append(request.url) if "/api/storefront/" in request.url else None)
    page.set_viewport_size({"width": 1100, "height": 300})
    page.add_init_script(
        "window.__shift = 0; new PerformanceObserver(l => l.getEntries().forEach(e => { if (!e.hadRecentInput)"
        " window.__shift += e.value; })).observe({type: 'layout-shift', buffered: true});"
    )
    # Push the blocks far below the fold before the widget starts.
    page.route(
        f"**/demo/{shop.domain}/products/{anchor}",
        lambda route: route.fulfill(
            response=route.fetch(),
            body=route.fetch()
            .text()
            .replace('<div class="product">', '<div style="height:3000px"></div><div class="product">'),
        ),
    )
    page.goto(f"{live_server.url}/demo/{shop.domain}/products/{anchor}")
    page.wait_for_timeout(500)
    assert api_calls == []
    page.locator('[data-basketry="bought_together"]').scroll_into_view_if_needed()
    page.locator('[data-basketry="bought_together"] section').wait_for()
    assert len(api_calls) >= 1
    assert page.evaluate("window.__shift") == 0
    assert problems == []


# PostgreSQL: the live server answers the widget's parallel requests from several threads, which
# an in-memory SQLite connection shared between threads cannot do reliably.
@pytest.mark.services("postgres", "chromium")
def test_events_are_sent_only_with_consent(live_server, demo_store, browser_page, monkeypatch):
    from recommendations.models import ShopperEvent

    # The browser's event loop runs in this thread; the ORM reads below are plain, blocking reads.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "1")
    shop, anchor, _, _ = demo_store
    page, problems = browser_page
    product_url = f"{live_server.url}/demo/{shop.domain}/products/{anchor}"

    def stored() -> list[tuple[str, str]]:
        with shop_scope(shop):
            return list(ShopperEvent.objects.values_list("kind", "anchor_external_id"))

    page.goto(product_url)
    page.locator('[data-basketry="bought_together"] section').wait_for()
    page.locator('[data-basketry="bought_together"] button').click()
    page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
    page.wait_for_timeout(500)
    assert stored() == []  # no consent: nothing leaves the page

    page.locator("#consent").click()
    page.goto(product_url)
    bundle = page.locator('[data-basketry="bought_together"] section')
    bundle.wait_for()
    assert page.locator('[data-basketry="bought_together"]').get_attribute("data-page-token").startswith("v1.")
    page.wait_for_timeout(300)  # let the impression observer fire
    bundle.locator("button").click()
    for attempt in range(100):
        if {"impression", "add_to_cart"} <= {kind for kind, _ in stored()}:
            break
        if attempt % 20 == 10:
            # What a page being left does: send whatever is still queued.
            page.evaluate("window.dispatchEvent(new Event('pagehide'))")
        page.wait_for_timeout(100)
    events = stored()
    assert {"impression", "add_to_cart"} <= {kind for kind, _ in events}
    assert all(event_anchor == anchor for _, event_anchor in events)
    # Stored at all means the batches carried the page token the demo page signs, as the
    # WordPress plugin does: the endpoint refuses a CSV shop's batch without one.
    assert problems == []


# PostgreSQL: the live server answers the widget's parallel requests from several threads.
@pytest.mark.services("postgres", "chromium")
def test_on_a_shopify_storefront_events_go_through_the_stores_app_proxy(live_server, demo_store, browser_page):
    """Shopify stores' events are refused by the public endpoint: the widget posts them to the
    store's own /apps/basketry/events (signed by Shopify), even when the script came from elsewhere."""
    shop, anchor, _, _ = demo_store
    page, problems = browser_page
    proxied: list[dict] = []
    public: list[str] = []
    page.on(
        "request", lambda request: public.append(request.url) if "/api/storefront/v1/events" in request.url else None
    )

    def answer(route):
        proxied.append(json.loads(route.request.post_data or "{}"))
        route.fulfill(status=202, content_type="application/json", body='{"stored": 1}')

    page.route("**/apps/basketry/events", answer)
    # What a Shopify storefront defines; its consent API is not there, so the demo's banner decides.
    page.add_init_script("window.Shopify = {}; localStorage.setItem('basketry-demo-consent', 'yes');")
    page.goto(f"{live_server.url}/demo/{shop.domain}/products/{anchor}")
    page.locator('[data-basketry="bought_together"] section').wait_for()
    page.wait_for_timeout(300)
    for _ in range(30):
        if proxied:
            break
        page.evaluate("window.dispatchEvent(new Event('pagehide'))")
        page.wait_for_timeout(100)
    assert proxied and proxied[0]["events"] and proxied[0]["shop"] == shop.domain
    assert public == []
    assert problems == []


# PostgreSQL: the live server answers the widget's parallel requests from several threads.
@pytest.mark.services("postgres", "chromium")
def test_woocommerce_add_to_cart_uses_the_add_to_cart_handler_with_the_block_mark(
    live_server, demo_store, browser_page
):
    shop, anchor, _, titles = demo_store
    page, problems = browser_page
    page.goto(f"{live_server.url}/demo/{shop.domain}/products/{anchor}?platform=woocommerce")
    bundle = page.locator('[data-basketry="bought_together"] section')
    bundle.wait_for()
    shown = bundle.locator("li a span").all_inner_texts()
    sent = []
    page.on("request", lambda request: sent.append(request.url) if "add-to-cart=" in request.url else None)
    bundle.locator("button").click()
    page.locator('[role="status"]', has_text="Added to cart").wait_for()

    # One request per ticked product, in order, each carrying the block's mark for attribution.
    assert len(sent) == len(shown)
    by_title = {title: external_id for external_id, title in titles.items()}
    for url, title in zip(sent, shown, strict=True):
        assert url.startswith(f"{live_server.url}/demo/{shop.domain}/?add-to-cart=")
        assert f"add-to-cart={by_title[title]}&" in url and url.endswith("&quantity=1&basketry=bought_together")
    page.goto(f"{live_server.url}/demo/{shop.domain}/cart")
    lines = page.locator("main > ul > li").all_inner_texts()
    assert len(lines) == len(shown)
    assert all("(added from a bought_together block)" in line for line in lines)
    assert problems == []


WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


# PostgreSQL: the live server answers the widget's parallel requests from several threads.
@pytest.mark.services("postgres", "chromium")
def test_the_blocks_pass_an_automated_wcag_21_aa_audit(live_server, demo_store, browser_page):
    """axe-core over the rendered blocks, with a "Why this?" disclosure open and a cart block."""
    axe = pytest.importorskip("axe_playwright_python.sync_playwright").Axe()
    shop, anchor, _, _ = demo_store
    page, problems = browser_page
    page.goto(f"{live_server.url}/demo/{shop.domain}/products/{anchor}")
    for kind in ("bought_together", "related"):
        page.locator(f'[data-basketry="{kind}"] section li').first.wait_for()
    page.locator('[data-basketry="related"] summary').first.click()
    page.locator('[data-basketry="bought_together"] button').click()
    page.locator('[role="status"]', has_text="Added to cart").wait_for()
    pages = {"product": page.url}

    page.goto(f"{live_server.url}/demo/{shop.domain}/cart")
    page.locator('[data-basketry="cart"] section li').first.wait_for()
    pages["cart"] = page.url

    for name, url in pages.items():
        page.goto(url)
        page.locator("[data-basketry] section li").first.wait_for()
        results = axe.run(page, context="[data-basketry]", options={"runOnly": {"type": "tag", "values": WCAG_21_AA}})
        assert results.violations_count == 0, f"{name} page:\n{results.generate_snapshot()}"
        # The audit really ran over the widget: it found rules that passed there.
        assert results.response["passes"], name
    assert problems == []


# PostgreSQL: the live server answers the widget's parallel requests from several threads.
@pytest.mark.services("postgres", "chromium")
def test_a_personal_block_sends_the_plugin_signed_token(live_server, demo_store, browser_page, monkeypatch):
    import time

    from recommendations.storefront.identity import customer_token_sign
    from shops.services.shops import shop_storefront_token_key_get

    # The browser's event loop runs in this thread; the key is read with a plain, blocking query.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "1")
    shop, anchor, _, _ = demo_store
    page, problems = browser_page
    key = shop_storefront_token_key_get(shop=shop)
    token = customer_token_sign(key=key, domain=shop.domain, customer_id="C2001", expires=int(time.time()) + 600)
    block = f'<div data-basketry="personal" data-shop="{shop.domain}" data-customer-token="{token}"></div>'
    # What the WordPress plugin prints for a logged-in shopper.
    page.route(
        f"**/demo/{shop.domain}/products/{anchor}",
        lambda route: route.fulfill(
            response=route.fetch(), body=route.fetch().text().replace("<main>", "<main>" + block)
        ),
    )
    with page.expect_response(lambda response: "type=personal" in response.url) as caught:
        page.goto(f"{live_server.url}/demo/{shop.domain}/products/{anchor}")
    assert caught.value.status == 200 and f"customer_token={token}" in caught.value.url
    section = page.locator('[data-basketry="personal"] section')
    section.wait_for()
    assert section.locator("h2").inner_text() == "Picked for you"
    assert section.locator("li").count() >= 1
    assert problems == []


# PostgreSQL: the live server answers the widget's parallel requests from several threads.
@pytest.mark.services("postgres", "chromium")
def test_behind_the_shopify_app_proxy_every_request_stays_on_the_store_and_is_signed(
    live_server, demo_store, browser_page, settings, monkeypatch
):
    """The theme extension's app embed loads the widget from the extension's assets on Shopify's
    CDN and its data from /apps/basketry; here the browser plays the CDN (serving the extension's
    asset file) and Shopify's proxy: it forwards /apps/basketry/* to the app's /proxy/* with
    Shopify's signature, as the real proxy does."""
    import hashlib
    import hmac
    import time
    from pathlib import Path
    from urllib.parse import parse_qsl, urlencode, urlsplit

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "1")
    settings.SHOPIFY_API_SECRET = "proxy-test-secret-of-at-least-32-bytes"
    shop, anchor, complement, titles = demo_store
    handle = "widget-demo"
    shop.domain = f"{handle}.myshopify.com"
    shop.platform = "shopify"
    shop.save()
    page, problems = browser_page
    forwarded: list[str] = []

    def shopify_proxy(route):
        url = urlsplit(route.request.url)
        params = dict(parse_qsl(url.query, keep_blank_values=True))
        params.update(
            shop=shop.domain, logged_in_customer_id="", path_prefix="/apps/basketry", timestamp=str(int(time.time()))
        )
        message = "".join(f"{key}={value}" for key, value in sorted(params.items()))
        signature = hmac.new(settings.SHOPIFY_API_SECRET.encode(), message.encode(), hashlib.sha256).hexdigest()
        path = url.path.removeprefix("/apps/basketry")
        target = f"{live_server.url}/proxy{path}?{urlencode(params)}&signature={signature}"
        forwarded.append(url.path)
        route.fulfill(response=route.fetch(url=target))

    extension = Path(settings.BASE_DIR, "extensions/basketry-theme")
    embed = (extension / "blocks/basketry-embed.liquid").read_text()
    cdn_url = "https://cdn.shopify.com/extensions/0a1b2c3d/basketry-theme-7/assets/basketry-widget.js"
    script_tag = next(line for line in embed.splitlines() if line.startswith("<script src="))
    # What Shopify renders for the Liquid filter: the asset's URL on its CDN.
    script_tag = script_tag.replace("{{ 'basketry-widget.js' | asset_url }}", cdn_url)
    assert cdn_url in script_tag
    cdn: list[str] = []

    def shopify_cdn(route):
        cdn.append(route.request.url)
        asset = (extension / "assets/basketry-widget.js").read_bytes()
        route.fulfill(content_type="application/javascript", body=asset)

    page.route(cdn_url, shopify_cdn)
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.route("**/apps/basketry/**", shopify_proxy)
    page.route(
        f"**/demo/{shop.domain}/products/{anchor}",
        lambda route: route.fulfill(
            response=route.fetch(),
            body=route.fetch().text().split('<script src="/static/basketry/widget.js"')[0]
            + script_tag
            + "</body></html>",
        ),
    )
    page.goto(f"{live_server.url}/demo/{shop.domain}/products/{anchor}")
    bundle = page.locator('[data-basketry="bought_together"] section')
    bundle.wait_for()
    assert titles[complement] in bundle.locator("li a span").all_inner_texts()
    assert cdn == [cdn_url]
    assert "/apps/basketry/recommendations" in forwarded and "/apps/basketry/widget.js" not in forwarded
    # Only the script comes from the CDN; every data request stays on the store and is signed.
    assert [url for url in requests if not url.startswith(live_server.url)] == [cdn_url]
    assert problems == []


# PostgreSQL: the live server answers the widget's parallel requests from several threads.
@pytest.mark.services("postgres", "chromium")
def test_a_product_without_an_image_or_with_a_broken_one_shows_a_neutral_placeholder(
    live_server, demo_store, browser_page
):
    shop, anchor, _, _ = demo_store
    page, problems = browser_page
    missing_image = f"{live_server.url}/static/basketry/no-such-image.png"

    def without_images(route):
        data = route.fetch().json()
        assert len(data["items"]) >= 3, "the test needs three cards"
        data["items"][0]["image_url"] = ""
        data["items"][1]["image_url"] = missing_image
        route.fulfill(content_type="application/json", body=json.dumps(data))

    page.route("**/api/storefront/v1/recommendations?*type=related*", without_images)
    page.goto(f"{live_server.url}/demo/{shop.domain}/products/{anchor}")
    cards = page.locator('[data-basketry="related"] section li')
    cards.nth(2).wait_for()
    page.locator('[data-basketry="related"] li:nth-child(2) .ph').wait_for()

    # No <img> left in the first two cards: nothing the browser could draw as a broken image.
    assert cards.nth(0).locator("img").count() == 0 and cards.nth(0).locator(".ph").count() == 1
    assert cards.nth(1).locator("img").count() == 0 and cards.nth(1).locator(".ph").count() == 1
    # The tile takes the place of the picture: same box as a real image, a visible neutral fill.
    image = cards.nth(2).locator("img")
    image.scroll_into_view_if_needed()
    page.wait_for_function("el => el.complete && el.naturalWidth > 0", arg=image.element_handle())
    tile, picture = cards.nth(0).locator(".ph").bounding_box(), image.bounding_box()
    assert tile["width"] == picture["width"] > 0 and tile["height"] == picture["height"] > 0
    fill = cards.nth(0).locator(".ph").evaluate("el => getComputedStyle(el).backgroundColor")
    assert fill not in ("", "rgba(0, 0, 0, 0)", "transparent")
    # The card still links to the product and names it.
    assert cards.nth(0).locator("a").get_attribute("href") and cards.nth(0).locator("a span").inner_text().strip()
    page.screenshot(path=str(ARTIFACTS / "widget-placeholder.png"), full_page=True)
    # The 404 for the broken image is the only console error: the browser's own report of it.
    assert all("404" in problem for problem in problems), problems
