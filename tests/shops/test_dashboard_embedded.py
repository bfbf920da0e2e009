"""The dashboard inside Shopify admin: every request carries a Shopify ID token (no cookie, so it
works in a private window), links and forms keep Shopify's parameters, a request without a valid
token bounces to App Bridge for a fresh one, and the shop is only ever the token's."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client

from recommendations.models import MerchantRule
from shops.tenancy import shop_scope
from tests.factories import make_product, make_shop
from tests.integrations.shopify.conftest import id_token
from tests.shops.dashboard_fixtures import sign_in

pytestmark = pytest.mark.django_db

API_KEY = "embedded-app"
SECRET = "embedded-secret-of-at-least-32-bytes!"


@pytest.fixture
def shops(settings):
    settings.SHOPIFY_API_KEY = API_KEY
    settings.SHOPIFY_API_SECRET = SECRET
    mine = make_shop(domain="mine.myshopify.com", platform="shopify")
    theirs = make_shop(domain="theirs.myshopify.com", platform="shopify")
    for shop in (mine, theirs):
        with shop_scope(shop):
            make_product(shop, external_id="P1", title=f"Product of {shop.domain}")
    return mine, theirs


def token(shop) -> str:
    return id_token(shop.domain, secret=SECRET, audience=API_KEY)


def embedded(shop, **extra) -> dict:
    return {"embedded": "1", "shop": shop.domain, "host": "YWRtaW4uc2hvcGlmeS5jb20", **extra}


def test_a_page_opens_with_an_id_token_and_no_cookie(shops):
    mine, _ = shops
    browser = Client()  # a private window: no cookie of ours at all
    response = browser.get("/dashboard/recommendations", {**embedded(mine), "id_token": token(mine), "q": "Product"})
    html = response.content.decode()
    assert response.status_code == 200
    assert response["Content-Security-Policy"] == (
        "frame-ancestors https://mine.myshopify.com https://admin.shopify.com;"
    )
    assert "X-Frame-Options" not in response
    assert "sessionid" not in response.cookies
    assert f'<meta name="shopify-api-key" content="{API_KEY}">' in html and "app-bridge.js" in html
    assert "<ui-nav-menu>" in html
    assert "Product of mine.myshopify.com" in html and "theirs" not in html
    rules_link = next(part for part in html.split('href="')[1:] if part.startswith("/dashboard/rules"))
    query = parse_qs(urlsplit(rules_link.split('"', 1)[0].replace("&amp;", "&")).query)
    assert query == {"embedded": ["1"], "shop": ["mine.myshopify.com"], "host": ["YWRtaW4uc2hvcGlmeS5jb20"]}
    assert 'name="shop" value="mine.myshopify.com"' in html  # the search form keeps them too


def test_without_a_valid_token_the_page_bounces_for_a_fresh_one(shops):
    mine, _ = shops
    for params in (embedded(mine), {**embedded(mine), "id_token": "not-a-token"}):
        response = Client().get("/dashboard/rules", params)
        assert response.status_code == 302
        assert urlsplit(response["Location"]).path == "/shopify/patch-id-token"
        assert b"Product of" not in response.content


def test_the_shop_is_the_tokens_whatever_the_query_or_session_says(shops):
    mine, theirs = shops
    browser = Client()
    sign_in(browser, mine)  # a signed-link session for one shop...
    response = browser.get("/dashboard/recommendations", {**embedded(mine), "id_token": token(theirs), "q": "Product"})
    html = response.content.decode()
    # ...and an embedded request with the other shop's token: the token decides, nothing mixes.
    assert "Product of theirs.myshopify.com" in html and "Product of mine" not in html
    assert response["Content-Security-Policy"].startswith("frame-ancestors https://theirs.myshopify.com ")


def test_a_form_posts_with_its_id_token_and_without_csrf_cookie(shops):
    mine, theirs = shops
    browser = Client(enforce_csrf_checks=True)
    query = "&".join(f"{k}={v}" for k, v in {**embedded(mine), "id_token": token(mine)}.items())
    response = browser.post(f"/dashboard/rules/new?{query}", {"kind": "exclude", "product_ids": "P1", "enabled": "on"})
    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert location.path == "/dashboard/rules" and parse_qs(location.query)["embedded"] == ["1"]
    with shop_scope(mine):
        assert MerchantRule.objects.count() == 1
    with shop_scope(theirs):
        assert MerchantRule.objects.count() == 0
    forged = "&".join(f"{k}={v}" for k, v in {**embedded(mine), "id_token": "forged"}.items())
    refused = browser.post(f"/dashboard/rules/new?{forged}", {"kind": "exclude", "product_ids": "P1"})
    assert refused.status_code == 302 and urlsplit(refused["Location"]).path == "/shopify/patch-id-token"
    with shop_scope(mine):
        assert MerchantRule.objects.count() == 1


def test_fetches_authenticate_with_a_bearer_token(shops):
    mine, _ = shops
    ok = Client().get("/dashboard/progress", headers={"Authorization": f"Bearer {token(mine)}"})
    assert ok.status_code == 200 and ok.json()["active"] is False
    bad = Client().get("/dashboard/progress", headers={"Authorization": "Bearer forged"})
    assert bad.status_code == 401 and bad["X-Shopify-Retry-Invalid-Session-Request"] == "1"


def test_a_store_that_has_not_installed_the_app_sees_nothing(shops, settings):
    stranger = make_shop(domain="stranger.myshopify.com", platform="shopify")
    stranger.status = "uninstalled"
    stranger.save()
    response = Client().get("/dashboard/", {**embedded(stranger), "id_token": token(stranger)})
    assert response.status_code == 404
