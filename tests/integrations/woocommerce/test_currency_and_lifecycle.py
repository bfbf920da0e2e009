"""The store's currency, and what the plugin's deactivation, activation and deletion do, against
the fake WooCommerce store (a EUR store) over real HTTP."""

from __future__ import annotations

import io
import json
import time
from urllib.parse import urlsplit

import pytest
from django.core.management import CommandError, call_command

from integrations.models import SyncRun, WebhookDelivery
from integrations.services import sync_execute
from integrations.woocommerce.client import WooCommerceError
from integrations.woocommerce.views import plugin_signature
from recommendations.storefront.identity import CREDENTIALS_KEY
from shops.models import Order, Product, Shop
from shops.tenancy import shop_scope
from tests.fakes.woocommerce import FakeWooCommerce
from tests.integrations.woocommerce.test_webhooks import deliver

pytestmark = pytest.mark.django_db
PLUGIN_KEY = "d" * 64


@pytest.fixture
def no_waiting(monkeypatch):
    monkeypatch.setattr("integrations.woocommerce.client.WooCommerceClient._wait", lambda self, seconds: None)


@pytest.fixture
def store(settings):
    settings.WOOCOMMERCE_ALLOW_INSECURE_HTTP = True
    with FakeWooCommerce(seed=21) as fake:
        fake.populate(products=20, orders=60, seed=21)
        yield fake


def domain_of(fake) -> str:
    return urlsplit(fake.base_url).netloc


def connect(client, fake, capture, *, sync: bool = True, monkeypatch=None) -> Shop:
    if not sync:
        monkeypatch.setattr("integrations.tasks.sync_run.delay", lambda *args: None)
    key, secret = fake.add_key()
    body = {"store_url": fake.base_url, "consumer_key": key, "consumer_secret": secret, "plugin_key": PLUGIN_KEY}
    with capture(execute=True):
        response = client.post("/woocommerce/connect/manual", body, content_type="application/json")
    assert response.status_code == 200, response.content
    return Shop.objects.get(domain=domain_of(fake))


def signed(client, shop_domain: str, method: str, path: str, body: bytes = b"", key: str = PLUGIN_KEY):
    timestamp = str(int(time.time()))
    signature = plugin_signature(key=key, timestamp=timestamp, method=method, path=path, body=body)
    headers = {"X-Basketry-Shop": shop_domain, "X-Basketry-Timestamp": timestamp, "X-Basketry-Signature": signature}
    if method == "GET":
        return client.get(path, headers=headers)
    return client.post(path, data=body, content_type="application/json", headers=headers)


# --- currency ----------------------------------------------------------------------------------


def test_a_eur_store_shows_eur_in_the_widget_and_dashboard_and_orders_keep_their_own(
    client, store, no_waiting, django_capture_on_commit_callbacks
):
    mug = next(pid for pid, product in store.products.items() if product["status"] == "publish")
    # A multi-currency plugin: one order paid in dollars in a euro store.
    dollars = store.add_order(status="completed", currency="USD", line_items=[{"product_id": mug}])

    shop = connect(client, store, django_capture_on_commit_callbacks)

    assert shop.currency == "EUR"
    assert any(r["route"] == "/wc/v3/settings/general/woocommerce_currency" for r in store.requests)
    with shop_scope(shop):
        assert set(Product.objects.values_list("currency", flat=True)) == {"EUR"}
        currencies = dict(Order.objects.values_list("external_id", "currency"))
    assert currencies.pop(str(dollars["id"])) == "USD"
    assert set(currencies.values()) == {"EUR"}

    call_command("train", shop.domain, stdout=io.StringIO())
    served = client.get(
        "/api/storefront/v1/recommendations", {"shop": shop.domain, "type": "related", "product_id": mug}
    ).json()
    assert served["items"] and {item["currency"] for item in served["items"]} == {"EUR"}
    status = signed(client, shop.domain, "GET", "/api/plugin/v1/status").json()
    assert status["currency"] == "EUR"
    from shops.dashboard.access import dashboard_link_create

    client.get("/dashboard/enter?token=" + dashboard_link_create(shop_id=shop.pk).split("token=", 1)[1])
    overview = client.get("/dashboard/").content.decode()
    assert " EUR" in overview and " USD" not in overview


def test_a_currency_changed_in_the_store_follows_on_the_next_reconciliation(
    client, store, no_waiting, django_capture_on_commit_callbacks
):
    shop = connect(client, store, django_capture_on_commit_callbacks)
    anchor = next(pid for pid, product in store.products.items() if product["status"] == "publish")
    call_command("train", shop.domain, stdout=io.StringIO())
    first = client.get(
        "/api/storefront/v1/recommendations", {"shop": shop.domain, "type": "related", "product_id": anchor}
    )
    assert {item["currency"] for item in first.json()["items"]} == {"EUR"}

    store.currency = "GBP"
    with django_capture_on_commit_callbacks(execute=True), shop_scope(shop):
        run = sync_execute(shop=shop, kind="reconcile")
        assert run.status == "succeeded" and run.checkpoint["currency"] == "GBP"
        # Unchanged products (not re-read by the reconciliation) follow too.
        assert set(Product.objects.values_list("currency", flat=True)) == {"GBP"}
    assert Shop.objects.get(pk=shop.pk).currency == "GBP"
    again = client.get(
        "/api/storefront/v1/recommendations", {"shop": shop.domain, "type": "related", "product_id": anchor}
    )
    assert {item["currency"] for item in again.json()["items"]} == {"GBP"}


def test_a_refused_settings_call_stops_the_connection_and_stores_nothing(client, store):
    store.settings_fault = (403, "woocommerce_rest_cannot_view", "Sorry, you cannot list resources.")
    key, secret = store.add_key()
    body = {"store_url": store.base_url, "consumer_key": key, "consumer_secret": secret, "plugin_key": PLUGIN_KEY}

    response = client.post("/woocommerce/connect/manual", body, content_type="application/json")

    assert response.status_code == 400
    assert "store's currency" in response.json()["error"] and "manage_woocommerce" in response.json()["error"]
    assert not Shop.objects.exists() and not store.webhooks
    with pytest.raises(CommandError, match="store's currency"):
        call_command("connect_woocommerce", "--url", store.base_url, "--consumer-key", key, "--consumer-secret", secret)


@pytest.mark.parametrize(
    "fault,retryable",
    [((403, "rest_forbidden", "Blocked by a security plugin."), False), ((503, "", "Down for maintenance"), True)],
)
def test_a_failing_settings_call_fails_the_sync_plainly_after_bounded_retries_with_nothing_written(
    client, store, no_waiting, django_capture_on_commit_callbacks, monkeypatch, fault, retryable
):
    from integrations.tasks import SYNC_RETRY_DELAYS, sync_run

    shop = connect(client, store, django_capture_on_commit_callbacks, sync=False, monkeypatch=monkeypatch)
    store.settings_fault = fault
    before = len(store.requests)

    from config.celery import app

    # Eagerly, the task's retries too (an eager retry re-runs in place unless errors propagate).
    monkeypatch.setitem(app.conf, "task_eager_propagates", False)
    sync_run.apply(args=(shop.pk, "full"))

    settings_calls = [r for r in store.requests[before:] if r["route"].startswith("/wc/v3/settings/")]
    # The client's own attempts (a 5xx is tried 6 times), times the task's bounded retries.
    assert len(settings_calls) == (6 * (1 + len(SYNC_RETRY_DELAYS)) if retryable else 1)
    assert not [r for r in store.requests[before:] if r["route"].startswith("/wc/v3/products")]
    with shop_scope(shop):
        run = SyncRun.objects.get()
        assert run.status == "failed" and "store's currency" in run.error
        assert not Product.objects.exists() and not Order.objects.exists()

    store.settings_fault = None
    with shop_scope(shop):
        assert sync_execute(shop=shop, kind="full").status == "succeeded"
        assert Product.objects.exists()


def test_a_currency_that_is_not_an_iso_code_is_refused(
    client, store, no_waiting, django_capture_on_commit_callbacks, monkeypatch
):
    shop = connect(client, store, django_capture_on_commit_callbacks, sync=False, monkeypatch=monkeypatch)
    store.currency = "Euro"
    with shop_scope(shop), pytest.raises(WooCommerceError, match="not a three-letter ISO 4217 code") as raised:
        sync_execute(shop=shop, kind="full")
    assert not raised.value.retryable
    assert Shop.objects.get(pk=shop.pk).currency == "EUR"


def test_connect_needs_an_https_callback_url(client, store, settings):
    settings.APP_URL = "http://basketry.test"
    settings.WOOCOMMERCE_ALLOW_INSECURE_HTTP = False
    body = {
        "store_url": "https://shop.example",
        "return_url": "https://shop.example/wp-admin/admin.php?page=basketry",
        "plugin_key": PLUGIN_KEY,
    }
    refused = client.post("/woocommerce/connect/start", body, content_type="application/json")
    assert refused.status_code == 400
    assert "https" in refused.json()["error"] and "manual" in refused.json()["error"]

    settings.APP_URL = "https://basketry.test"
    started = client.post("/woocommerce/connect/start", body, content_type="application/json")
    assert started.status_code == 200
    assert "callback_url=https%3A%2F%2Fbasketry.test%2F" in started.json()["authorize_url"]


# --- deactivation, activation, deletion --------------------------------------------------------


def test_deactivation_pauses_and_activation_resumes_with_a_catch_up(
    client, store, no_waiting, django_capture_on_commit_callbacks, monkeypatch
):
    from integrations.tasks import sync_all, woocommerce_webhooks_check_all

    shop = connect(client, store, django_capture_on_commit_callbacks)
    # What the plugin's deactivation does in WooCommerce itself.
    for hook in store.webhooks.values():
        hook["status"] = "paused"
    paused = signed(client, shop.domain, "POST", "/api/plugin/v1/pause")
    assert paused.status_code == 200 and paused.json()["paused"] is True

    requests_before = len(store.requests)
    with django_capture_on_commit_callbacks(execute=True):
        sync_all("reconcile")
        woocommerce_webhooks_check_all()
    assert len(store.requests) == requests_before, "a paused shop's store is not called"
    assert all(hook["status"] == "paused" for hook in store.webhooks.values())
    pid = next(iter(store.products))
    with django_capture_on_commit_callbacks(execute=True):
        response = deliver(
            client,
            shop,
            "product.updated",
            {**store._render_product(store.products[pid]), "name": "X"},
            secret=shop.credentials["webhook_secret"],
        )
    assert response.status_code == 200
    with shop_scope(shop):
        delivery = WebhookDelivery.objects.get()
        assert (delivery.status, delivery.detail) == ("ignored", "paused: the plugin is deactivated")
        assert Product.objects.get(external_id=str(pid)).title != "X"
        assert signed(client, shop.domain, "GET", "/api/plugin/v1/status").json()["paused"] is True

    store.update_product(pid, name="Renamed while paused")  # delivered nowhere: the webhooks are paused
    with django_capture_on_commit_callbacks(execute=True):
        resumed = signed(client, shop.domain, "POST", "/api/plugin/v1/resume")
    assert resumed.json() == {"paused": False, "changed": True}
    assert all(hook["status"] == "active" for hook in store.webhooks.values())
    with shop_scope(shop):
        assert Product.objects.get(external_id=str(pid)).title == "Renamed while paused"
        assert SyncRun.objects.order_by("-pk").first().kind == "reconcile"
    assert shop.credentials["consumer_key"] == Shop.objects.get(pk=shop.pk).credentials["consumer_key"]


def test_deleting_the_plugin_disconnects_at_once_and_purges_after_the_retention(
    client, store, no_waiting, django_capture_on_commit_callbacks, settings
):
    from integrations.tasks import shops_purge_due

    shop = connect(client, store, django_capture_on_commit_callbacks)
    consumer_key, secret = shop.credentials["consumer_key"], shop.credentials["webhook_secret"]

    answer = signed(client, shop.domain, "POST", "/api/plugin/v1/uninstall")

    assert answer.status_code == 200
    assert answer.json() == {
        "uninstalled": True,
        "key_ending": consumer_key[-7:],
        "purge_after_hours": settings.SHOP_PURGE_AFTER_UNINSTALL_HOURS,
    }
    gone = Shop.objects.get(pk=shop.pk)
    assert gone.status == "uninstalled" and gone.uninstalled_at is not None
    assert not {"consumer_key", "consumer_secret", "webhook_secret", CREDENTIALS_KEY} & set(gone.credentials)
    # A delivery signed with the old secret (a webhook the plugin could not delete) is refused.
    pid = next(iter(store.products))
    late = deliver(client, shop, "product.updated", store._render_product(store.products[pid]), secret=secret)
    assert late.status_code == 401
    with shop_scope(gone):
        assert not WebhookDelivery.objects.exists()
    # The plugin key is gone too: a second call is refused, and nothing else can be asked.
    assert signed(client, shop.domain, "POST", "/api/plugin/v1/uninstall").status_code == 401
    assert signed(client, shop.domain, "GET", "/api/plugin/v1/status").status_code == 401

    # The documented retention, as for a Shopify uninstall: the data stays until then.
    assert shops_purge_due() == 0
    with shop_scope(gone):
        assert Product.objects.exists()
    Shop.objects.filter(pk=shop.pk).update(uninstalled_at=gone.uninstalled_at.replace(year=2000))
    assert shops_purge_due() == 1
    assert not Shop.objects.filter(pk=shop.pk).exists()
    assert not Product.all_shops.filter(shop_id=shop.pk).exists()


def test_reconnecting_after_deletion_starts_a_fresh_connection(
    client, store, no_waiting, django_capture_on_commit_callbacks
):
    shop = connect(client, store, django_capture_on_commit_callbacks)
    signed(client, shop.domain, "POST", "/api/plugin/v1/pause")
    signed(client, shop.domain, "POST", "/api/plugin/v1/uninstall")
    store.webhooks.clear()  # the plugin deleted them

    again = connect(client, store, django_capture_on_commit_callbacks)

    assert again.pk == shop.pk and again.status == "installed"
    assert again.credentials["webhook_secret"] and not again.settings.get("woocommerce_paused_at")
    assert len(store.webhooks) == 7


def test_the_plugin_status_names_the_key_in_use(client, store, no_waiting, django_capture_on_commit_callbacks):
    shop = connect(client, store, django_capture_on_commit_callbacks)
    first = shop.credentials["consumer_key"]
    status = signed(client, shop.domain, "GET", "/api/plugin/v1/status").json()
    assert status["key_ending"] == first[-7:] and status["paused"] is False

    replaced = connect(client, store, django_capture_on_commit_callbacks)

    status = signed(client, shop.domain, "GET", "/api/plugin/v1/status").json()
    assert status["key_ending"] == replaced.credentials["consumer_key"][-7:] != first[-7:]


def test_lifecycle_calls_need_the_stores_own_signature(client, store, no_waiting, django_capture_on_commit_callbacks):
    shop = connect(client, store, django_capture_on_commit_callbacks)
    for path in ("/api/plugin/v1/pause", "/api/plugin/v1/resume", "/api/plugin/v1/uninstall"):
        assert client.post(path, data=b"", content_type="application/json").status_code in (401, 403)
        assert signed(client, shop.domain, "POST", path, key="e" * 64).status_code == 401
    fresh = Shop.objects.get(pk=shop.pk)
    assert fresh.status == "installed" and not fresh.settings.get("woocommerce_paused_at")
    assert json.loads(signed(client, shop.domain, "GET", "/api/plugin/v1/status").content)["connected"] is True
