"""Install -> sync -> train -> storefront against the fake Shopify Admin server, over real HTTP."""

from __future__ import annotations

import io
import zlib
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.core.management import call_command
from django.db import connection

from integrations.models import SyncRun
from integrations.services import sync_execute
from integrations.shopify import sync as shopify_sync
from integrations.shopify.client import ShopifyApiError
from integrations.shopify.install import ShopifyReauthRequired, shopify_access_token_get
from integrations.shopify.sync import SyncFailed
from shops.models import Order, OrderLine, Product, Shop
from shops.tenancy import shop_scope
from tests.fakes.shopify import populate
from tests.integrations.shopify.conftest import API_KEY, SECRET

DOMAIN = "round-trip.myshopify.com"
pytestmark = pytest.mark.django_db


@pytest.fixture
def store(fake):
    store = fake.add_store(DOMAIN, currency="EUR", timezone="Europe/Paris", name="Round Trip")
    populate(store, products=60, orders=700, seed=3)
    store.add_product(title="Retired mug", status="ARCHIVED")
    store.add_product(title="Members-only print", status="UNLISTED")
    return store


@pytest.fixture
def no_waiting(monkeypatch, fake):
    """Throttling and Retry-After waits are not slept through: the fake's clock moves on instead,
    so that its cost bucket refills as it would have."""
    monkeypatch.setattr("integrations.shopify.client.time.sleep", fake.advance)
    monkeypatch.setattr("integrations.services.time.sleep", fake.advance)


def expected_counts(store) -> tuple[int, int]:
    """What the fake shows: every product, and the orders within the default 60 days."""
    visible_orders = sum(1 for _ in store._visible_orders())
    return len(store.products), visible_orders


def install(client, fake, capture):
    with capture(execute=True):
        response = client.get(
            "/shopify/app",
            {
                "shop": DOMAIN,
                "host": "YWRtaW4uc2hvcGlmeS5jb20vc3RvcmUvcm91bmQtdHJpcA",
                "id_token": fake.id_token(DOMAIN),
            },
        )
    return response


def test_install_sync_train_and_serve(client, fake, store, no_waiting, django_capture_on_commit_callbacks):
    store.throttle_next(2)
    store.rate_limit_next(1, retry_after=1.5)

    response = install(client, fake, django_capture_on_commit_callbacks)

    assert response.status_code == 200, response.content
    assert response["Content-Security-Policy"] == f"frame-ancestors https://{DOMAIN} https://admin.shopify.com;"
    shop = Shop.objects.get(domain=DOMAIN)
    assert (shop.platform, shop.status, shop.currency, shop.timezone, shop.name) == (
        "shopify",
        "installed",
        "EUR",
        "Europe/Paris",
        "Round Trip",
    )
    # Shopify's own shop id, which compliance and app webhooks name (binding.py).
    assert shop.platform_id == str(zlib.crc32(DOMAIN.encode()) % 10**8)
    assert shop.credentials["access_token"].startswith("shpat_") and shop.credentials["refresh_token"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT credentials FROM shops_shop WHERE id = %s", [shop.pk])
        assert shop.credentials["access_token"] not in cursor.fetchone()[0]

    products, orders = expected_counts(store)
    with shop_scope(shop):
        run = SyncRun.objects.get()
        assert run.status == "succeeded" and run.kind == "full", run.error
        assert Product.objects.count() == products
        assert Order.objects.count() == orders
        expected_lines = sum(
            1
            for _, order in store._visible_orders()
            for item in order["lineItems"]
            if item.get("product") and item["quantity"] > 0
        )
        assert OrderLine.objects.count() == expected_lines
        # Lines added from a widget block carry its mark through the sync (attribution).
        expected_marks = sum(
            1
            for _, order in store._visible_orders()
            for item in order["lineItems"]
            if item.get("product") and item["quantity"] > 0 and item["customAttributes"]
        )
        assert expected_marks and OrderLine.objects.filter(source_block="bought_together").count() == expected_marks
        assert run.throttled == 2 and run.watermark is not None
        statuses = dict(Product.objects.values_list("external_id", "status"))
        assert {"published", "draft", "archived", "unlisted"} <= set(statuses.values())
        assert Order.objects.filter(status="test").exists()  # kept, never trained on
        # Collections come along as tags, which content similarity and the rules read.
        in_collections = next(p for p in store.products.values() if p["collections"])
        stored_tags = Product.objects.get(external_id=str(in_collections["id"]).rsplit("/", 1)[-1]).tags
        assert {f"collection:{c['handle']}" for c in in_collections["collections"]} <= set(stored_tags)
        # GraphQL customer gids are hashed as the same numeric id the App Proxy signs.
        customer = next(o["customer"]["id"] for _, o in store._visible_orders() if o.get("customer"))
        assert Order.objects.filter(customer_ref=shop.customer_ref(customer.rsplit("/", 1)[-1])).exists()

    call_command("train", DOMAIN, stdout=io.StringIO())
    sellable = [external_id for external_id, status in statuses.items() if status == "published"]
    served = client.get(
        "/api/storefront/v1/recommendations", {"shop": DOMAIN, "type": "related", "product_id": sellable[0]}
    ).json()
    assert served["items"]
    assert all(statuses[item["product_id"]] == "published" for item in served["items"])
    assert all(item["currency"] == "EUR" for item in served["items"])

    # Opening the app again neither exchanges tokens again nor starts another sync.
    exchanges = len(store.token_requests)
    again = install(client, fake, django_capture_on_commit_callbacks)
    assert again.status_code == 200 and len(store.token_requests) == exchanges
    with shop_scope(shop):
        assert SyncRun.objects.count() == 1


def test_a_sync_that_fails_midway_resumes_from_its_checkpoint_without_duplicates(
    fake, store, no_waiting, monkeypatch, django_capture_on_commit_callbacks
):
    from integrations.shopify.install import shopify_connect_with_token

    token = store.issue_access_token()["access_token"]
    shop = shopify_connect_with_token(domain=DOMAIN, access_token=token)
    monkeypatch.setattr(shopify_sync, "BATCH", 50)
    real_write = shopify_sync.orders_write
    calls = {"n": 0}

    def dies_on_the_fourth_batch(**kwargs):
        calls["n"] += 1
        if calls["n"] == 4:
            raise ShopifyApiError("connection dropped mid-ingest", retryable=True)
        return real_write(**kwargs)

    monkeypatch.setattr(shopify_sync, "orders_write", dies_on_the_fourth_batch)
    with shop_scope(shop):
        with pytest.raises(ShopifyApiError):
            sync_execute(shop=shop, kind="full", wait=True, poll_seconds=0)
        run = SyncRun.objects.get()
        assert run.status == "running" and run.checkpoint["phase"] == "orders"
        assert run.checkpoint["parents_done"] == 150 and Order.objects.count() == 150
        bulk_runs_before = sum(1 for r in store.requests if r.get("operation") == "bulkOperationRunQuery")

        resumed = sync_execute(shop=shop, kind="full", wait=True, poll_seconds=0)

        products, orders = expected_counts(store)
        assert resumed.pk == run.pk and resumed.status == "succeeded"
        assert Order.objects.count() == orders and Product.objects.count() == products
        # The finished bulk operation's file was read again from the checkpoint, not queried anew.
        assert sum(1 for r in store.requests if r.get("operation") == "bulkOperationRunQuery") == bulk_runs_before


def test_a_failed_bulk_operation_is_recorded_and_a_retry_starts_that_phase_again(
    fake, store, no_waiting, django_capture_on_commit_callbacks
):
    from integrations.shopify.install import shopify_connect_with_token

    shop = shopify_connect_with_token(domain=DOMAIN, access_token=store.issue_access_token()["access_token"])
    store.fail_bulk_next()
    with shop_scope(shop):
        with pytest.raises(SyncFailed, match="FAILED"):
            sync_execute(shop=shop, kind="full", wait=True, poll_seconds=0)
        run = sync_execute(shop=shop, kind="full", wait=True, poll_seconds=0)
        assert run.status == "succeeded" and Product.objects.count() == len(store.products)


def test_reconciliation_catches_what_webhooks_missed_in_few_requests(
    fake, store, no_waiting, django_capture_on_commit_callbacks
):
    from integrations.shopify.install import shopify_connect_with_token

    shop = shopify_connect_with_token(domain=DOMAIN, access_token=store.issue_access_token()["access_token"])
    with shop_scope(shop):
        sync_execute(shop=shop, kind="full", wait=True, poll_seconds=0)
        changed_id = next(iter(store.products))
        store.touch_product(changed_id, title="Renamed while a webhook was lost")
        run = sync_execute(shop=shop, kind="reconcile", wait=True, poll_seconds=0)
        assert run.kind == "reconcile" and run.status == "succeeded"
        assert Product.objects.get(external_id=str(changed_id)).title == "Renamed while a webhook was lost"
        assert run.products_synced >= 1 and run.requests_made <= 4


def test_tokens_refresh_before_expiry_and_a_dead_refresh_token_asks_for_reauth(
    client, fake, store, no_waiting, django_capture_on_commit_callbacks
):
    install(client, fake, django_capture_on_commit_callbacks)
    shop = Shop.objects.get(domain=DOMAIN)
    first = shop.credentials["access_token"]
    shop.credentials = {**shop.credentials, "expires_at": "2020-01-01T00:00:00+00:00"}
    shop.save()

    refreshed = shopify_access_token_get(shop=shop)
    assert refreshed != first
    assert Shop.objects.get(pk=shop.pk).credentials["access_token"] == refreshed
    refreshes = [r for r in store.token_requests if r.get("grant_type") == "refresh_token"]
    assert len(refreshes) == 1
    # Still fresh: no second refresh.
    assert shopify_access_token_get(shop=Shop.objects.get(pk=shop.pk)) == refreshed
    assert len([r for r in store.token_requests if r.get("grant_type") == "refresh_token"]) == 1

    store.revoke_all()
    shop = Shop.objects.get(pk=shop.pk)
    with pytest.raises(ShopifyReauthRequired):
        shopify_access_token_get(shop=shop, force_refresh=True)
    assert "access_token" not in Shop.objects.get(pk=shop.pk).credentials


def test_the_admin_api_takes_the_shop_from_the_id_token_only(
    client, fake, store, no_waiting, django_capture_on_commit_callbacks
):
    install(client, fake, django_capture_on_commit_callbacks)
    other = fake.add_store("other.myshopify.com")
    populate(other, products=5, orders=20, seed=1)
    install_other = fake.id_token("other.myshopify.com")
    with django_capture_on_commit_callbacks(execute=True):
        client.get("/shopify/app", {"shop": "other.myshopify.com", "id_token": install_other})

    mine = client.get("/api/admin/v1/status", headers={"Authorization": f"Bearer {fake.id_token(DOMAIN)}"})
    theirs = client.get(
        "/api/admin/v1/status", headers={"Authorization": f"Bearer {fake.id_token('other.myshopify.com')}"}
    )
    assert mine.status_code == theirs.status_code == 200
    assert (mine.json()["shop"], mine.json()["products"]) == (DOMAIN, len(store.products))
    assert (theirs.json()["shop"], theirs.json()["products"]) == ("other.myshopify.com", 5)
    # A query string or body naming another shop changes nothing.
    forged = client.get(
        "/api/admin/v1/status?shop=other.myshopify.com", headers={"Authorization": f"Bearer {fake.id_token(DOMAIN)}"}
    )
    assert forged.json()["shop"] == DOMAIN


@pytest.mark.parametrize(
    "case", ["expired", "other_app", "wrong_secret", "iss_other_shop", "not_installed", "not_a_jwt"]
)
def test_bad_id_tokens_get_401_with_the_retry_header(client, fake, store, case):
    tokens = {
        "expired": lambda: fake.id_token(DOMAIN, expires_in=-60),
        "other_app": lambda: fake.id_token(DOMAIN, audience="someone-elses-app"),
        "wrong_secret": lambda: fake.id_token(DOMAIN, secret="not-our-secret"),
        "iss_other_shop": lambda: fake.id_token(DOMAIN, iss="https://victim.myshopify.com/admin"),
        "not_installed": lambda: fake.id_token(DOMAIN),
        "not_a_jwt": lambda: "garbage",
    }
    response = client.get("/api/admin/v1/status", headers={"Authorization": f"Bearer {tokens[case]()}"})
    assert response.status_code == 401
    assert response["X-Shopify-Retry-Invalid-Session-Request"] == "1"
    assert "shop" not in response.json()


def test_a_document_request_without_an_id_token_goes_to_the_patch_page(client, fake, store):
    response = client.get("/shopify/app", {"shop": DOMAIN, "host": "abc"})
    assert response.status_code == 302
    assert urlsplit(response["Location"]).path == "/shopify/patch-id-token"
    assert not Shop.objects.filter(domain=DOMAIN).exists()


def test_the_authorization_code_grant_checks_state_and_signature(
    client, fake, store, no_waiting, django_capture_on_commit_callbacks
):
    import hashlib
    import hmac
    import time

    def signed(params: dict) -> str:
        message = "&".join(f"{key}={params[key]}" for key in sorted(params))
        return urlencode({**params, "hmac": hmac.new(SECRET.encode(), message.encode(), hashlib.sha256).hexdigest()})

    start = client.get(f"/shopify/auth?{signed({'shop': DOMAIN, 'timestamp': str(int(time.time()))})}")
    assert start.status_code == 302
    authorize = urlsplit(start["Location"])
    assert authorize.netloc == DOMAIN and authorize.path == "/admin/oauth/authorize"
    state = parse_qs(authorize.query)["state"][0]

    code = store.issue_auth_code()
    callback = {"code": code, "shop": DOMAIN, "state": state, "timestamp": str(int(time.time()))}
    forged_state = client.get(f"/shopify/auth/callback?{signed({**callback, 'state': 'guessed'})}")
    unsigned = client.get(f"/shopify/auth/callback?{urlencode({**callback, 'hmac': '0' * 64})}")
    assert forged_state.status_code == unsigned.status_code == 400
    assert not Shop.objects.filter(domain=DOMAIN).exists()

    with django_capture_on_commit_callbacks(execute=True):
        done = client.get(f"/shopify/auth/callback?{signed(callback)}")
    assert done.status_code == 302 and done["Location"] == f"https://{DOMAIN}/admin/apps/{API_KEY}"
    shop = Shop.objects.get(domain=DOMAIN)
    assert shop.credentials["access_token"] and shop.status == "installed"

    stale = {**callback, "timestamp": str(int(time.time()) - 3600)}
    assert client.get(f"/shopify/auth?{signed({'shop': DOMAIN, 'timestamp': stale['timestamp']})}").status_code == 400


def test_reinstall_after_uninstall_restores_the_shop(
    client, fake, store, no_waiting, django_capture_on_commit_callbacks
):
    from shops.services.lifecycle import shop_uninstall

    install(client, fake, django_capture_on_commit_callbacks)
    shop = Shop.objects.get(domain=DOMAIN)
    shop_uninstall(shop=shop)
    store.revoke_all()
    store.reinstall()
    response = install(client, fake, django_capture_on_commit_callbacks)
    shop.refresh_from_db()
    assert response.status_code == 200
    assert shop.status == "installed" and shop.uninstalled_at is None and shop.credentials["access_token"]
    with shop_scope(shop):
        # The reinstall synced again; the data of the first install was kept, not duplicated.
        assert SyncRun.objects.filter(status="succeeded").count() == 2
        assert Product.objects.count() == len(store.products)


def connected(store):
    from integrations.shopify.install import shopify_connect_with_token

    return shopify_connect_with_token(domain=DOMAIN, access_token=store.issue_access_token()["access_token"])


def test_a_graphql_error_mid_sync_is_recorded_and_the_retry_resumes(fake, store, no_waiting):
    shop = connected(store)
    with shop_scope(shop):
        waiting = sync_execute(shop=shop, kind="full")  # products bulk operation started
        assert waiting.status == "running" and waiting.checkpoint["bulk_id"]
        store.graphql_error_next(1)
        with pytest.raises(ShopifyApiError):
            sync_execute(shop=shop, kind="full", wait=True, poll_seconds=0)
        waiting.refresh_from_db()
        assert waiting.status == "running" and "Internal error" in waiting.error

        done = sync_execute(shop=shop, kind="full", wait=True, poll_seconds=0)

        assert done.pk == waiting.pk and done.status == "succeeded" and done.error == ""
        assert Product.objects.count() == len(store.products)
        assert Order.objects.count() == expected_counts(store)[1]


def test_orders_older_than_60_days_need_read_all_orders(fake, store, no_waiting):
    import datetime as dt

    from django.utils import timezone

    old = store.add_order(
        createdAt=(timezone.now() - dt.timedelta(days=100)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        lineItems=[{"product_id": next(iter(store.products)), "quantity": 1}],
    )
    shop = connected(store)
    with shop_scope(shop):
        sync_execute(shop=shop, kind="full", wait=True, poll_seconds=0)
        assert not Order.objects.filter(external_id=str(old["id"]).rsplit("/", 1)[-1]).exists()

    store.scopes.add("read_all_orders")
    shop.credentials = {**shop.credentials, "scope": "read_products,read_orders,read_all_orders"}
    shop.save()
    with shop_scope(shop):
        sync_execute(shop=shop, kind="full", wait=True, poll_seconds=0)
        assert Order.objects.filter(external_id=str(old["id"]).rsplit("/", 1)[-1]).exists()


def test_bulk_operations_finish_wakes_the_waiting_sync(
    client, fake, store, no_waiting, django_capture_on_commit_callbacks
):
    from tests.integrations.shopify.conftest import signed_webhook

    shop = connected(store)
    with shop_scope(shop):
        run = sync_execute(shop=shop, kind="full")
        assert run.status == "running"
    with django_capture_on_commit_callbacks(execute=True):
        response = signed_webhook(
            client,
            topic="bulk_operations/finish",
            domain=DOMAIN,
            payload={"admin_graphql_api_id": run.checkpoint["bulk_id"], "status": "completed"},
        )
    assert response.status_code == 200
    run.refresh_from_db()
    assert run.status == "succeeded"
    with shop_scope(shop):
        assert Product.objects.count() == len(store.products)


def test_shops_uninstalled_long_ago_are_purged_when_no_redact_arrives(shopify_settings):
    import datetime as dt

    from django.utils import timezone

    from integrations.tasks import shops_purge_due
    from shops.services.lifecycle import shop_uninstall
    from tests.factories import make_product, make_shop

    long_gone = make_shop(domain="long-gone.myshopify.com", platform="shopify")
    recent = make_shop(domain="recent.myshopify.com", platform="shopify")
    for owner in (long_gone, recent):
        with shop_scope(owner):
            make_product(owner)
    shop_uninstall(shop=long_gone, at=timezone.now() - dt.timedelta(hours=100))
    shop_uninstall(shop=recent, at=timezone.now() - dt.timedelta(hours=1))

    assert shops_purge_due() == 1

    assert not Shop.objects.filter(pk=long_gone.pk).exists()
    assert not Product.all_shops.filter(shop_id=long_gone.pk).exists()
    assert Product.all_shops.filter(shop_id=recent.pk).count() == 1


@pytest.mark.services("postgres")
@pytest.mark.django_db(transaction=True)
def test_concurrent_workers_refresh_a_token_once(fake, store):
    import threading

    from django.db import connections

    token = store.issue_access_token(expiring=True)
    shop = connected(store)
    # Expired, with a live refresh token: what two workers find at the same moment.
    shop.credentials = {
        **shop.credentials,
        "access_token": token["access_token"],
        "refresh_token": token["refresh_token"],
        "expires_at": "2020-01-01T00:00:00+00:00",
    }
    shop.save()
    results: list[str] = []
    start = threading.Barrier(3)

    def worker() -> None:
        start.wait()
        try:
            results.append(shopify_access_token_get(shop=Shop.objects.get(pk=shop.pk)))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(results) == 3 and len(set(results)) == 1 and results[0] != token["access_token"]
    assert len([r for r in store.token_requests if r.get("grant_type") == "refresh_token"]) == 1


def test_one_sync_per_shop_at_a_time_and_reconciliation_joins_a_running_sync(fake, store, no_waiting):
    from django.core.cache import cache
    from django.core.management import CommandError

    from integrations.services import SyncBusy

    shop = connected(store)
    with shop_scope(shop):
        waiting = sync_execute(shop=shop, kind="full")
        assert waiting.status == "running"
        # The periodic reconciliation arriving now carries the unfinished full sync on.
        joined = sync_execute(shop=shop, kind="reconcile", wait=True, poll_seconds=0)
        assert joined.pk == waiting.pk and joined.status == "succeeded"
        assert SyncRun.objects.count() == 1

        cache.add(f"shop:{shop.pk}:sync-lock", "another-worker", timeout=60)
        with pytest.raises(SyncBusy):
            sync_execute(shop=shop, kind="reconcile")
    with pytest.raises(CommandError, match="another sync of round-trip.myshopify.com is running"):
        call_command("sync", DOMAIN, stdout=io.StringIO())
    cache.delete(f"shop:{shop.pk}:sync-lock")
    out = io.StringIO()
    call_command("sync", DOMAIN, stdout=out)
    assert "Reconciliation" in out.getvalue()


def test_the_app_home_links_into_the_theme_editor_with_the_blocks(
    client, fake, store, no_waiting, settings, django_capture_on_commit_callbacks
):
    from html import unescape

    settings.SHOPIFY_THEME_EXTENSION_ID = "0c1f4a52-7d3e-4b8e-9f51-2a3b4c5d6e7f"
    page = unescape(install(client, fake, django_capture_on_commit_callbacks).content.decode())
    editor = f"https://{DOMAIN}/admin/themes/current/editor?"
    assert page.count(editor) == 4
    for block in ("related-products", "bought-together", "cart-recommendations"):
        assert f"{settings.SHOPIFY_THEME_EXTENSION_ID}%2F{block}" in page or (
            f"{settings.SHOPIFY_THEME_EXTENSION_ID}/{block}" in page
        )
    assert "activateAppId=" in page


def test_the_client_paces_itself_by_the_cost_bucket_and_waits_out_throttling(fake, store):
    """An empty bucket: Shopify answers THROTTLED and the client waits for the restore rate to
    refill what the query asks for; afterwards it waits before sending rather than be refused
    again; a 429's Retry-After (fractional) is honoured; a slowly refilling store gets smaller pages."""
    from integrations.shopify.client import ShopifyClient
    from integrations.shopify.queries import PRODUCTS_PAGE, products_page_variables

    shop = connected(store)
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        fake.advance(seconds)

    with ShopifyClient(shop=shop, sleep=sleep) as client:
        variables = products_page_variables(cursor=None, search=None, budget=client.budget)
        store.set_bucket(0.0)
        client.graphql(PRODUCTS_PAGE, variables)
        cost = store.requests[-1]["requested_cost"]
        assert 900 < cost <= 1000
        assert client.stats.throttled == 1 and client.stats.paced == 0
        assert waits[-1] == pytest.approx(cost / 100, abs=0.2)  # the restore rate is 100 a second

        client.graphql(PRODUCTS_PAGE, variables)  # the bucket holds less than the cost: wait first
        assert client.stats.paced == 1 and client.stats.throttled == 1 and 0 < waits[-1] < cost / 100

        store.rate_limit_next(1, retry_after=0.5)
        client.graphql(PRODUCTS_PAGE, variables)
        assert client.stats.retried == 1 and 0.5 in waits

        store.restore_rate = 50.0
        client.graphql(PRODUCTS_PAGE, variables)
        assert client.budget == 500
        smaller = products_page_variables(cursor=None, search=None, budget=client.budget)
        data = client.graphql(PRODUCTS_PAGE, smaller)
    assert smaller["first"] < variables["first"] and store.requests[-1]["requested_cost"] <= 500
    assert len(data["products"]["nodes"]) == smaller["first"]
    assert all(entry["requested_cost"] <= 1000 for entry in store.requests if "requested_cost" in entry)


def test_a_full_sync_marks_deleted_what_shopify_no_longer_has(fake, store, no_waiting):
    shop = connected(store)
    gone, kept = list(store.products)[:2]
    with shop_scope(shop):
        sync_execute(shop=shop, kind="full", wait=True, poll_seconds=0)
        store.delete_product(gone)  # and its products/delete webhook is lost
        run = sync_execute(shop=shop, kind="full", wait=True, poll_seconds=0)
        statuses = dict(Product.objects.values_list("external_id", "status"))
    assert run.checkpoint["products_deleted"] == 1
    assert statuses[str(gone)] == "deleted" and statuses[str(kept)] != "deleted"
    assert sum(status == "deleted" for status in statuses.values()) == 1
