"""Shopify App Proxy: personal lists only for the customer Shopify signed for."""

from __future__ import annotations

import hashlib
import hmac
import io
import time
from collections import Counter
from urllib.parse import urlencode

import pytest
from django.core.management import call_command

from shops.demo.generator import demo_shop_generate
from shops.services.demo import demo_shop_load
from shops.tenancy import shop_scope
from tests.factories import make_shop

SECRET = "test-app-secret"
pytestmark = pytest.mark.django_db


def signed_query(params: dict[str, str], secret: str = SECRET) -> str:
    """Sign like Shopify does: sorted key=value pairs, no separator, hex HMAC-SHA256."""
    message = "".join(f"{key}={value}" for key, value in sorted(params.items()))
    signature = hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()
    return urlencode({**params, "signature": signature})


@pytest.fixture
def shopify_store(settings):
    settings.SHOPIFY_API_SECRET = SECRET
    shop = make_shop(domain="proxy-test.myshopify.com", platform="shopify")
    shop.plan = "growth"  # personal lists come with a paid plan (shops/plans.py; tests/.../test_billing.py)
    shop.save(update_fields=["plan"])
    demo = demo_shop_generate(seed=3, product_count=50, order_count=900)
    with shop_scope(shop):
        demo_shop_load(shop=shop, demo=demo)
    call_command("train", shop.domain, stdout=io.StringIO())
    return shop, demo


def proxy(client, shop, *, customer: str, secret: str = SECRET, timestamp: int | None = None, **extra):
    params = {
        "shop": shop.domain,
        "logged_in_customer_id": customer,
        "path_prefix": "/apps/basketry",
        "timestamp": str(timestamp or int(time.time())),
        "type": "personal",
        "limit": "6",
        **extra,
    }
    return client.get(f"/proxy/recommendations?{signed_query(params, secret)}")


def test_the_signed_customer_gets_their_list_without_what_they_bought(client, shopify_store):
    shop, demo = shopify_store
    customer = Counter(order.customer_id for order in demo.orders if order.customer_id).most_common(1)[0][0]
    bought = {
        line.product_external_id for order in demo.orders if order.customer_id == customer for line in order.lines
    }

    response = proxy(client, shop, customer=customer)

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["type"] == "personal" and body["fallback"] is False
    assert body["items"] and not bought & {item["product_id"] for item in body["items"]}
    assert response["Cache-Control"] == "private, no-store"


def test_an_anonymous_visitor_gets_the_flagged_popular_list(client, shopify_store):
    shop, _ = shopify_store
    response = proxy(client, shop, customer="")
    assert response.status_code == 200 and response.json()["fallback"] is True


@pytest.mark.parametrize("case", ["tampered_customer", "wrong_secret", "stale_timestamp"])
def test_unverified_requests_are_401(client, shopify_store, case):
    shop, _ = shopify_store
    if case == "wrong_secret":
        response = proxy(client, shop, customer="C2001", secret="not-the-secret")
    elif case == "stale_timestamp":
        response = proxy(client, shop, customer="C2001", timestamp=int(time.time()) - 3600)
    else:
        good = signed_query(
            {
                "shop": shop.domain,
                "logged_in_customer_id": "C2001",
                "path_prefix": "/apps/basketry",
                "timestamp": str(int(time.time())),
                "type": "personal",
            }
        )
        response = client.get("/proxy/recommendations?" + good.replace("C2001", "C2002"))
    assert response.status_code == 401
    assert "items" not in response.json()


def test_the_public_api_never_serves_personal_lists_for_a_raw_id(client, shopify_store):
    shop, _ = shopify_store
    for params in ({"product_id": "C2001"}, {"customer": "C2001"}, {"customer_token": "C2001"}):
        response = client.get("/api/storefront/v1/recommendations", {"shop": shop.domain, "type": "personal", **params})
        assert response.status_code in (400, 401) and "items" not in response.json()


def test_the_html_fragment_lists_the_same_products_escaped(client, shopify_store):
    shop, demo = shopify_store
    anchor = demo.complementary_pairs[0][0]
    as_json = proxy(client, shop, customer="", type="related", product_id=anchor).json()
    response = proxy(client, shop, customer="", type="related", product_id=anchor, format="html")

    assert response.status_code == 200 and response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert page.count("<li>") == len(as_json["items"]) > 0
    from django.utils.html import escape

    for item in as_json["items"]:
        assert escape(item["title"]) in page and escape(item["explanation"]) in page
    assert proxy(client, shop, customer="", type="related", product_id=anchor, format="xml").status_code == 400


def test_events_through_the_proxy_take_the_shop_from_the_signature(client, shopify_store):
    import json

    from recommendations.models import ShopperEvent

    shop, demo = shopify_store
    params = {
        "shop": shop.domain,
        "logged_in_customer_id": "",
        "path_prefix": "/apps/basketry",
        "timestamp": str(int(time.time())),
    }
    body = json.dumps(
        # The body's shop is ignored: only the signed query names the shop.
        {"shop": "someone-else.myshopify.com", "events": [{"type": "click", "block": "related", "product_id": "1"}]}
    )
    signed = client.post(f"/proxy/events?{signed_query(params)}", data=body, content_type="text/plain")
    unsigned = client.post(f"/proxy/events?{urlencode(params)}&signature=00", data=body, content_type="text/plain")

    assert signed.status_code == 202 and unsigned.status_code == 401
    with shop_scope(shop):
        assert list(ShopperEvent.objects.values_list("kind", "product_external_id")) == [("click", "1")]


def test_proxy_events_are_rate_limited_per_shopper_address_shopify_reports(client, settings, db):
    import json
    import uuid

    settings.SHOPIFY_API_SECRET = SECRET
    settings.EVENT_BATCHES_PER_MINUTE = 2
    shop = make_shop(domain=f"limit-{uuid.uuid4().hex[:8]}.myshopify.com", platform="shopify")
    body = json.dumps({"events": [{"type": "click", "block": "related", "product_id": "1"}]})

    def post(shopper: str, agent: str) -> int:
        params = {"shop": shop.domain, "logged_in_customer_id": "", "path_prefix": "/apps/basketry"}
        query = signed_query({**params, "timestamp": str(int(time.time()))})
        # Shopify's proxy is the peer; it reports the shopper's address as the last hop.
        return client.post(
            f"/proxy/events?{query}",
            data=body,
            content_type="text/plain",
            REMOTE_ADDR="203.0.113.10",
            HTTP_X_FORWARDED_FOR=f"{uuid.uuid4().int % 200}.0.0.1, {shopper}",
            HTTP_USER_AGENT=agent,
        ).status_code

    assert [post("198.51.100.7", f"agent-{n}") for n in range(3)] == [202, 202, 429]
    assert post("198.51.100.8", "agent-0") == 202  # another shopper behind the same proxy


def test_the_widget_is_served_on_the_stores_origin(client):
    response = client.get("/proxy/widget.js")
    assert response.status_code == 200 and response["Content-Type"].startswith("application/javascript")
    assert b"data-basketry" in response.content or b"[data-basketry]" in response.content


def test_through_the_proxy_related_beside_the_bought_together_block_leaves_its_products_out(client, shopify_store):
    shop, demo = shopify_store
    overlapped = 0
    for anchor, _ in demo.complementary_pairs[:8]:
        # The bought-together block as the page shows it: the dashboard's number of items.
        params = {"shop": shop.domain, "logged_in_customer_id": "", "path_prefix": "/apps/basketry",
                  "timestamp": str(int(time.time())), "type": "bought_together", "product_id": anchor}  # fmt: skip
        together = client.get(f"/proxy/recommendations?{signed_query(params)}").json()["items"]
        alone = proxy(client, shop, customer="", type="related", product_id=anchor).json()["items"]
        beside = proxy(client, shop, customer="", type="related", product_id=anchor, beside="bought_together")
        assert beside.status_code == 200
        shown = {item["product_id"] for item in together}
        kept = [item for item in alone if item["product_id"] not in shown]
        assert beside.json()["items"][: len(kept)] == kept
        assert not shown & {item["product_id"] for item in beside.json()["items"]}
        overlapped += len(kept) < len(alone)
    assert overlapped
    wrong = proxy(client, shop, customer="", type="bought_together", product_id=anchor, beside="bought_together")
    assert wrong.status_code == 400 and wrong.json()["error"].startswith("beside:")
