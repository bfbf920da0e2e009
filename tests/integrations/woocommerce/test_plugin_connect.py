"""The plugin's Connect flow and webhook deliveries against a live server, as WooCommerce does
them: the store posts the keys to the callback, then delivers signed webhooks to the shop's URL."""

from __future__ import annotations

import secrets
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from integrations.models import WebhookDelivery
from recommendations.storefront.identity import CREDENTIALS_KEY
from shops.models import Product, Shop
from shops.tenancy import shop_scope
from tests.fakes.woocommerce import FakeWooCommerce


@pytest.fixture
def live_store(live_server, settings):
    settings.APP_URL = live_server.url
    settings.WOOCOMMERCE_ALLOW_INSECURE_HTTP = True
    with FakeWooCommerce(seed=8, allow_http_callback=True) as fake:
        fake.populate(products=25, orders=120, seed=8)
        yield live_server, fake


# PostgreSQL: the live server answers the store's callback and its webhook pings from several
# threads at once, which an in-memory SQLite connection shared between threads cannot do.
@pytest.mark.services("postgres")
@pytest.mark.django_db(transaction=True)
def test_connect_from_the_plugin_then_webhooks_keep_the_catalogue_current(live_store):
    server, fake = live_store
    plugin_key = secrets.token_hex(32)
    start = httpx.post(
        f"{server.url}/woocommerce/connect/start",
        json={
            "store_url": fake.base_url,
            "return_url": f"{fake.base_url}/wp-admin/admin.php?page=basketry",
            "plugin_key": plugin_key,
        },
    )
    assert start.status_code == 200, start.text
    authorize = start.json()["authorize_url"]
    assert urlsplit(authorize).path == "/wc-auth/v1/authorize"
    assert parse_qs(urlsplit(authorize).query)["scope"] == ["read_write"]

    back = fake.authorize(authorize)

    assert "success=1" in back
    shop = Shop.objects.get(platform="woocommerce", domain=urlsplit(fake.base_url).netloc)
    assert shop.credentials[CREDENTIALS_KEY] == plugin_key and shop.credentials["consumer_key"].startswith("ck_")
    assert len([h for h in fake.webhooks.values() if h["status"] == "active"]) == 7
    assert fake.pings, "WooCommerce pings each new webhook"
    with shop_scope(shop):
        assert set(Product.objects.values_list("external_id", flat=True)) >= {str(p) for p in fake.products}

    # Train, then the storefront serves the store's published products.
    import io

    from django.core.management import call_command

    call_command("train", shop.domain, stdout=io.StringIO())
    with shop_scope(shop):
        published = set(Product.objects.filter(status="published").values_list("external_id", flat=True))
    served = httpx.get(
        f"{server.url}/api/storefront/v1/recommendations",
        params={"shop": shop.domain, "type": "related", "product_id": sorted(published)[0]},
    ).json()
    assert served["items"] and {item["product_id"] for item in served["items"]} <= published

    # The one-time reference is used up: a replayed key delivery is refused and stores nothing.
    replay = httpx.post(
        f"{server.url}/woocommerce/auth/callback",
        json={
            "key_id": 99,
            "user_id": parse_qs(urlsplit(authorize).query)["user_id"][0],
            "consumer_key": "ck_" + "1" * 40,
            "consumer_secret": "cs_" + "1" * 40,
            "key_permissions": "read_write",
        },
    )
    assert replay.status_code == 400
    assert Shop.objects.get(pk=shop.pk).credentials["consumer_key"] != "ck_" + "1" * 40

    pid = next(pid for pid, p in fake.products.items() if p["status"] == "publish")
    fake.update_product(pid, name="Renamed in wp-admin")
    with shop_scope(shop):
        assert Product.objects.get(external_id=str(pid)).title == "Renamed in wp-admin"
        assert WebhookDelivery.objects.filter(topic="product.updated", status="done").exists()
    assert fake.deliveries[-1]["status_code"] == 200


@pytest.mark.services("postgres")
@pytest.mark.django_db(transaction=True)
def test_webhooks_woocommerce_disabled_are_switched_back_on_with_a_catch_up_sync(live_store, monkeypatch):
    from integrations.tasks import woocommerce_webhooks_check_all

    server, fake = live_store
    key, secret = fake.add_key()
    from django.core.management import call_command

    call_command("connect_woocommerce", "--url", fake.base_url, "--consumer-key", key, "--consumer-secret", secret)
    hook = next(h for h in fake.webhooks.values() if h["topic"] == "product.updated")
    from integrations.woocommerce.client import WooCommerceClient

    assert all(h["status"] == "active" for h in fake.webhooks.values())
    # What WooCommerce does after the 7th failed delivery in a row.
    with WooCommerceClient(store_url=fake.base_url, consumer_key=key, consumer_secret=secret) as client:
        client.request("PUT", f"webhooks/{hook['id']}", json={"status": "disabled"})
    assert fake.webhooks[hook["id"]]["status"] == "disabled"
    queued = []
    monkeypatch.setattr("integrations.tasks.sync_run.delay", lambda *args: queued.append(args))

    repaired = woocommerce_webhooks_check_all()

    assert repaired == 1 and fake.webhooks[hook["id"]]["status"] == "active"
    assert len(fake.webhooks) == 7  # switched back on, not duplicated
    shop = Shop.objects.get(domain=urlsplit(fake.base_url).netloc)
    assert queued == [(shop.pk, "reconcile")]
