"""Personal lists on the public API for a customer token the WordPress plugin signed."""

from __future__ import annotations

import io
import time
from collections import Counter

import pytest
from django.core.management import call_command

from recommendations.storefront.identity import CREDENTIALS_KEY, customer_token_sign
from shops.demo.generator import demo_shop_generate
from shops.models import Shop
from shops.services.demo import demo_shop_load
from shops.services.shops import shop_storefront_token_key_get
from shops.tenancy import shop_scope
from tests.factories import make_shop

URL = "/api/storefront/v1/recommendations"
pytestmark = pytest.mark.django_db


@pytest.fixture
def woo_store():
    shop = make_shop(domain="tokens.example", platform="woocommerce")
    demo = demo_shop_generate(seed=5, product_count=50, order_count=900)
    with shop_scope(shop):
        demo_shop_load(shop=shop, demo=demo)
    call_command("train", shop.domain, stdout=io.StringIO())
    key = shop_storefront_token_key_get(shop=shop)
    customer = Counter(order.customer_id for order in demo.orders if order.customer_id).most_common(1)[0][0]
    orders = [order for order in demo.orders if order.customer_id == customer]
    bought = {line.product_external_id for order in orders for line in order.lines}
    return shop, key, customer, bought


def personal(client, shop, token):
    return client.get(URL, {"shop": shop.domain, "type": "personal", "customer_token": token, "limit": 6})


def test_a_signed_customer_gets_their_list_without_what_they_bought(client, woo_store):
    shop, key, customer, bought = woo_store
    token = customer_token_sign(key=key, domain=shop.domain, customer_id=customer, expires=int(time.time()) + 600)

    response = personal(client, shop, token)

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["type"] == "personal" and body["fallback"] is False
    assert body["items"] and not bought & {item["product_id"] for item in body["items"]}
    assert response["Cache-Control"] == "private, no-store"


def test_the_key_is_made_once_and_kept_encrypted(woo_store):
    shop, key, _, _ = woo_store
    assert shop_storefront_token_key_get(shop=Shop.objects.get(pk=shop.pk)) == key
    assert Shop.objects.get(pk=shop.pk).credentials[CREDENTIALS_KEY] == key
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT credentials FROM shops_shop WHERE id = %s", [shop.pk])
        assert key not in cursor.fetchone()[0]


@pytest.mark.parametrize("case", ["other_key", "other_shop", "expired", "too_long", "tampered", "malformed"])
def test_tokens_that_do_not_hold_are_401_and_list_nothing(client, woo_store, case):
    shop, key, customer, _ = woo_store
    now = int(time.time())
    sign = dict(key=key, domain=shop.domain, customer_id=customer, expires=now + 600)
    if case == "other_key":
        sign["key"] = "0" * 64
    elif case == "other_shop":
        sign["domain"] = "another-shop.example"
    elif case == "expired":
        sign["expires"] = now - 1
    elif case == "too_long":
        sign["expires"] = now + 3 * 24 * 3600
    token = customer_token_sign(**sign)
    if case == "tampered":
        token = token.replace(f"v1.{customer}.", "v1.someone-else.")
    elif case == "malformed":
        token = "v1.<script>.1.abc"

    response = personal(client, shop, token)

    assert response.status_code == 401
    assert "items" not in response.json() and response.json()["error"].startswith("customer_token:")
