"""Connect -> sync -> train -> storefront against the fake WooCommerce store, over real HTTP."""

from __future__ import annotations

import io
from urllib.parse import urlsplit

import pytest
from django.core.management import CommandError, call_command

from integrations.models import SyncRun
from integrations.services import sync_execute
from integrations.woocommerce.client import WooCommerceError
from shops.models import Order, OrderLine, Product, Shop
from shops.tenancy import shop_scope
from tests.fakes.woocommerce import FakeWooCommerce

pytestmark = pytest.mark.django_db
PAID = ("processing", "completed")


@pytest.fixture
def no_waiting(monkeypatch):
    monkeypatch.setattr("integrations.woocommerce.client.time.sleep", lambda seconds: None)


@pytest.fixture
def insecure_ok(settings):
    settings.WOOCOMMERCE_ALLOW_INSECURE_HTTP = True
    return settings


@pytest.fixture
def store(insecure_ok):
    with FakeWooCommerce(seed=3, currency="EUR") as fake:
        fake.populate(products=60, orders=700, seed=3)
        yield fake


def domain_of(fake) -> str:
    return urlsplit(fake.base_url).netloc


def connect(fake, capture) -> Shop:
    key, secret = fake.add_key()
    with capture(execute=True):
        call_command(
            "connect_woocommerce",
            "--url",
            fake.base_url,
            "--consumer-key",
            key,
            "--consumer-secret",
            secret,
            stdout=io.StringIO(),
        )
    return Shop.objects.get(domain=domain_of(fake))


def test_connect_sync_train_and_serve(client, store, no_waiting, django_capture_on_commit_callbacks):
    shop = connect(store, django_capture_on_commit_callbacks)

    assert shop.platform == "woocommerce" and shop.credentials["consumer_key"].startswith("ck_")
    hooks = {hook["topic"]: hook for hook in store.webhooks.values()}
    assert set(hooks) == {
        "product.created",
        "product.updated",
        "product.deleted",
        "product.restored",
        "order.created",
        "order.updated",
        "order.deleted",
    }
    assert all(
        hook["status"] == "active" and hook["delivery_url"].endswith(f"/webhooks/woocommerce/{shop.pk}")
        for hook in hooks.values()
    )

    with shop_scope(shop):
        run = SyncRun.objects.get()
        assert run.status == "succeeded", run.error
        stored_orders = dict(Order.objects.values_list("external_id", "status"))
        statuses = dict(Product.objects.values_list("external_id", "status"))
        lines = OrderLine.objects.count()
    expected_orders = {str(o["id"]): o["status"] for o in store.orders.values() if o["status"] != "checkout-draft"}
    assert set(stored_orders) == set(expected_orders)
    assert all((stored_orders[i] == "paid") == (s in PAID) for i, s in expected_orders.items())
    # Lines naming products the store no longer has keep their basket through a draft
    # placeholder, which is never shown.
    placeholders = set(statuses) - {str(pid) for pid in store.products}
    assert {str(pid) for pid in store.products} <= set(statuses)
    assert placeholders and all(statuses[pid] == "draft" for pid in placeholders)
    assert lines == sum(
        1
        for o in store.orders.values()
        if o["status"] != "checkout-draft"
        for item in o["line_items"]
        if item.get("product_id") and item["quantity"] > 0
    )
    # Catalog visibility and status decide what may be shown.
    for pid, product in store.products.items():
        if product["status"] != "publish":
            assert statuses[str(pid)] == "draft"
        elif product["catalog_visibility"] in ("hidden", "search"):
            assert statuses[str(pid)] == "unlisted"

    call_command("train", shop.domain, stdout=io.StringIO())
    anchor = next(pid for pid, status in statuses.items() if status == "published")
    served = client.get(
        "/api/storefront/v1/recommendations", {"shop": shop.domain, "type": "related", "product_id": anchor}
    ).json()
    assert served["items"] and all(statuses[item["product_id"]] == "published" for item in served["items"])


def test_faults_are_retried_a_challenge_page_stops_plainly_and_the_retry_resumes(
    store, no_waiting, django_capture_on_commit_callbacks, monkeypatch
):
    # Connect without the automatic first sync, then sync by hand with faults injected.
    monkeypatch.setattr("integrations.tasks.sync_run.delay", lambda *args: None)
    shop = connect(store, django_capture_on_commit_callbacks)
    store.fail_randomly(0.05)
    store.fail_next(2, status=503, retry_after=1)
    with shop_scope(shop):
        store.challenge_next(1)
        with pytest.raises(WooCommerceError, match="Cloudflare challenge"):
            sync_execute(shop=shop, kind="full")
        run = SyncRun.objects.get()
        assert run.status == "running" and "Cloudflare challenge" in run.error

        resumed = sync_execute(shop=shop, kind="full")

        assert resumed.pk == run.pk and resumed.status == "succeeded"
        synced = set(
            Product.objects.exclude(status="draft", title="Discontinued item").values_list("external_id", flat=True)
        )
        assert synced == {str(pid) for pid in store.products}
        assert Order.objects.count() == sum(1 for o in store.orders.values() if o["status"] != "checkout-draft")


def test_reconciliation_asks_only_for_what_changed(store, no_waiting, django_capture_on_commit_callbacks):
    shop = connect(store, django_capture_on_commit_callbacks)
    changed = list(store.products)[:3]
    for pid in changed:
        store.update_product(pid, name=f"Renamed {pid}")
    before = len(store.requests)
    with shop_scope(shop):
        run = sync_execute(shop=shop, kind="reconcile")
        titles = dict(
            Product.objects.filter(external_id__in=[str(p) for p in changed]).values_list("external_id", "title")
        )
    assert run.kind == "reconcile" and run.status == "succeeded"
    assert titles == {str(pid): f"Renamed {pid}" for pid in changed}
    asked = store.requests[before:]
    assert len(asked) <= 6, [r["path"] for r in asked]
    assert any("modified_after" in r["query"] for r in asked)


def test_an_old_store_without_modified_after_is_reconciled_by_a_full_read(
    insecure_ok, no_waiting, django_capture_on_commit_callbacks
):
    with FakeWooCommerce(seed=4, supports_modified_after=False) as old:
        old.populate(products=30, orders=100, seed=4)
        shop = connect(old, django_capture_on_commit_callbacks)
        pid = next(iter(old.products))
        old.update_product(pid, name="Changed on an old store")
        with shop_scope(shop):
            sync_execute(shop=shop, kind="reconcile")
            assert Product.objects.get(external_id=str(pid)).title == "Changed on an old store"
        assert not any("modified_after" in r["query"] for r in old.requests)


def test_a_host_that_strips_authorization_falls_back_to_query_string_auth(
    no_waiting, django_capture_on_commit_callbacks, settings
):
    with FakeWooCommerce(tls=True, strip_authorization=True, seed=5) as tls_store:
        settings.WOOCOMMERCE_CA_BUNDLE = tls_store.ca_path
        tls_store.populate(products=10, orders=20, seed=5)
        shop = connect(tls_store, django_capture_on_commit_callbacks)
        assert shop.credentials["query_string_auth"] is True
        with shop_scope(shop):
            ids = set(Product.objects.values_list("external_id", flat=True))
        assert ids >= {str(pid) for pid in tls_store.products}
        assert {r["auth"] for r in tls_store.requests if r["status"] == 200} == {"query"}


@pytest.mark.parametrize(
    "case,message",
    [
        ("bad_secret", "refused the keys"),
        ("not_keys", "Expected a WooCommerce key pair"),
        ("http_not_allowed", "plain http"),
        ("read_only", "cannot create webhooks"),
    ],
)
def test_bad_connections_store_nothing(store, settings, case, message):
    key, secret = store.add_key(permissions="read" if case == "read_only" else "read_write")
    if case == "bad_secret":
        secret = "cs_" + "0" * 40
    elif case == "not_keys":
        key = "nonsense"
    elif case == "http_not_allowed":
        settings.WOOCOMMERCE_ALLOW_INSECURE_HTTP = False
    with pytest.raises(CommandError, match=message):
        call_command("connect_woocommerce", "--url", store.base_url, "--consumer-key", key, "--consumer-secret", secret)
    assert not Shop.objects.filter(domain=domain_of(store)).exists()


def test_a_login_page_instead_of_the_api_is_reported_plainly_and_not_retried(
    store, no_waiting, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr("integrations.tasks.sync_run.delay", lambda *args: None)
    shop = connect(store, django_capture_on_commit_callbacks)
    store.login_page_next(1)
    with shop_scope(shop), pytest.raises(WooCommerceError, match="WordPress login page") as caught:
        sync_execute(shop=shop, kind="full")
    assert caught.value.retryable is False


def test_a_key_delivery_with_an_unknown_or_forged_reference_is_refused(client, store):
    from django.core import signing

    body = {
        "key_id": 5,
        "consumer_key": "ck_" + "a" * 40,
        "consumer_secret": "cs_" + "b" * 40,
        "key_permissions": "read_write",
    }
    for user_id in ("12", signing.dumps("never-issued", salt="woocommerce-connect"), 12):
        response = client.post(
            "/woocommerce/auth/callback", {**body, "user_id": user_id}, content_type="application/json"
        )
        assert response.status_code == 400  # anything but 200: WooCommerce deletes the key
    read_only = client.post(
        "/woocommerce/auth/callback",
        {**body, "user_id": "12", "key_permissions": "read"},
        content_type="application/json",
    )
    assert read_only.status_code == 400 and "read_write" in read_only.json()["error"]
    assert not Shop.objects.exists()


def test_connect_start_refuses_bad_requests(client, store, settings):
    good = {"store_url": store.base_url, "return_url": f"{store.base_url}/wp-admin/", "plugin_key": "a" * 64}
    for change in (
        {"plugin_key": "short"},
        {"return_url": "https://elsewhere.example/"},
        {"store_url": "ftp://shop.example"},
    ):
        response = client.post("/woocommerce/connect/start", {**good, **change}, content_type="application/json")
        assert response.status_code == 400 and response.json()["error"]
    assert client.post("/woocommerce/connect/start", good, content_type="application/json").status_code == 200


def test_keys_pasted_into_the_plugin_connect_the_store(client, store, no_waiting, django_capture_on_commit_callbacks):
    from recommendations.storefront.identity import CREDENTIALS_KEY

    key, secret = store.add_key()
    body = {"store_url": store.base_url, "consumer_key": key, "consumer_secret": secret, "plugin_key": "c" * 64}
    wrong = client.post(
        "/woocommerce/connect/manual", {**body, "consumer_secret": "cs_" + "0" * 40}, content_type="application/json"
    )
    assert wrong.status_code == 400 and "refused the keys" in wrong.json()["error"]
    assert not Shop.objects.exists()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/woocommerce/connect/manual", body, content_type="application/json")

    assert response.status_code == 200 and response.json() == {"connected": True, "shop": domain_of(store)}
    shop = Shop.objects.get(domain=domain_of(store))
    assert shop.credentials[CREDENTIALS_KEY] == "c" * 64
    assert len(store.webhooks) == 7
    with shop_scope(shop):
        assert Order.objects.exists()  # the first sync ran


def test_a_store_without_keys_cannot_sync_and_leaves_no_run(insecure_ok):
    from shops.errors import ValidationFailed
    from tests.factories import make_shop

    shop = make_shop(domain="no-keys.example", platform="woocommerce")
    with shop_scope(shop):
        with pytest.raises(ValidationFailed, match="connect it first"):
            sync_execute(shop=shop, kind="full")
        assert not SyncRun.objects.exists()


def test_an_item_the_mapping_rejects_is_skipped_and_named_and_later_syncs_go_on(
    store, no_waiting, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr("integrations.tasks.sync_run.delay", lambda *args: None)
    shop = connect(store, django_capture_on_commit_callbacks)
    broken = store.add_product(name="Price from a broken plugin", regular_price="12.50")
    store.products[broken["id"]]["price"] = "twelve"
    with shop_scope(shop):
        first = sync_execute(shop=shop, kind="full")
        second = sync_execute(shop=shop, kind="full")

        assert (first.status, second.status) == ("succeeded", "succeeded")
        rejected = SyncRun.objects.get(pk=first.pk).checkpoint["rejected"]
        assert rejected["count"] == 1
        assert rejected["examples"][0].startswith(f"product {broken['id']}: ") and "twelve" in rejected["examples"][0]
        assert not Product.objects.filter(external_id=str(broken["id"])).exists()
        assert Product.objects.count() >= len(store.products) - 1


def test_a_truncated_json_page_is_retried_and_reported_as_such(
    store, no_waiting, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr("integrations.tasks.sync_run.delay", lambda *args: None)
    shop = connect(store, django_capture_on_commit_callbacks)
    with shop_scope(shop):
        store.truncated_next(1)
        run = sync_execute(shop=shop, kind="full")
        assert run.status == "succeeded"  # one cut-off page, read again whole

        store.truncated_next(50)
        with pytest.raises(WooCommerceError, match="truncated or malformed JSON") as raised:
            sync_execute(shop=shop, kind="full")
        assert raised.value.retryable
        assert "truncated or malformed JSON" in SyncRun.objects.order_by("-pk").first().error
