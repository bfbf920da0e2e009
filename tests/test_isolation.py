"""Tenant isolation: one shop can never read or change another shop's rows.

Walks every shop-owned model Django knows, so a new model is covered the moment it exists (and
fails `test_every_shop_owned_model_has_a_factory` until tests/factories.py can build it). Every
URL must be classified below; shop-scoped endpoints get their cross-shop tests here as they land.
"""

from __future__ import annotations

import pytest
from django.apps import apps
from django.urls import URLPattern, URLResolver, get_resolver

from shops.errors import ShopScopeError
from shops.tenancy import ShopOwnedModel, shop_scope
from tests.factories import ROW_FACTORIES
from tests.integrations.shopify.conftest import id_token

SHOP_OWNED_MODELS = sorted(
    (model for model in apps.get_models() if issubclass(model, ShopOwnedModel)), key=lambda m: m._meta.label
)
model_cases = pytest.mark.parametrize("model", SHOP_OWNED_MODELS, ids=lambda m: m._meta.label)


def test_every_shop_owned_model_has_a_factory():
    assert SHOP_OWNED_MODELS, "no shop-owned model found: the walk itself is broken"
    assert set(SHOP_OWNED_MODELS) == set(ROW_FACTORIES)


def test_shop_owned_models_keep_the_scoped_manager():
    for model in SHOP_OWNED_MODELS:
        assert type(model.objects).__name__ == "ShopScopedManager", model
        assert model._default_manager.name == "all_shops", model


@model_cases
@pytest.mark.django_db
def test_unscoped_query_raises(model, shop):
    ROW_FACTORIES[model](shop)
    for query in (
        lambda: list(model.objects.all()),
        lambda: model.objects.count(),
        lambda: model.objects.filter(pk__gt=0).exists(),
        lambda: model.objects.get(pk=1),
        lambda: model.objects.update(shop_id=shop.pk),
        lambda: model.objects.all().delete(),
    ):
        with pytest.raises(ShopScopeError):
            query()
    assert model.all_shops.count() == 1


@model_cases
@pytest.mark.django_db
def test_scoped_read_sees_only_own_rows(model, shop, other_shop):
    mine = ROW_FACTORIES[model](shop)
    theirs = ROW_FACTORIES[model](other_shop)
    with shop_scope(shop):
        assert list(model.objects.values_list("pk", flat=True)) == [mine.pk]
        assert not model.objects.filter(pk=theirs.pk).exists()
        with pytest.raises(model.DoesNotExist):
            model.objects.get(pk=theirs.pk)


@model_cases
@pytest.mark.django_db
def test_scoped_writes_cannot_touch_another_shop(model, shop, other_shop):
    theirs = ROW_FACTORIES[model](other_shop)
    with shop_scope(shop):
        assert model.objects.filter(pk=theirs.pk).update(shop_id=shop.pk) == 0
        deleted, _ = model.objects.filter(pk=theirs.pk).delete()
        assert deleted == 0
    assert model.all_shops.get(pk=theirs.pk).shop_id == other_shop.pk


@model_cases
@pytest.mark.django_db
def test_scoped_create_refuses_another_shops_row(model, shop, other_shop):
    with shop_scope(shop):
        with pytest.raises(ShopScopeError):
            model.objects.bulk_create([ROW_FACTORIES[model](other_shop, save=False)])
        unsaved = ROW_FACTORIES[model](other_shop, save=False)
        values = {
            field.attname: getattr(unsaved, field.attname)
            for field in model._meta.concrete_fields
            if not field.primary_key
        }
        with pytest.raises(ShopScopeError):
            model.objects.create(**values)
    assert model.all_shops.filter(shop=shop).count() == 0


@pytest.mark.django_db
def test_scope_cannot_switch_to_another_shop_inside_a_scope(shop, other_shop):
    with shop_scope(shop):
        with shop_scope(shop):
            pass
        with pytest.raises(ShopScopeError):
            with shop_scope(other_shop):
                pass


# --- Endpoints ----------------------------------------------------------------------------------

# Routes that show no shop data at all.
PUBLIC_ROUTES = {"home", "livez", "readyz", "servez", "openapi-schema"}
# Platform entry points: the shop comes only from what the platform signed (webhook HMAC, ID
# token, OAuth query HMAC); tests/integrations/shopify covers forged and cross-shop requests.
PLATFORM_ROUTES = {
    "shopify-webhooks",
    "shopify-app-home",
    "shopify-patch-id-token",
    "shopify-oauth-start",
    "shopify-oauth-callback",
    "woocommerce-webhooks",
    "woocommerce-connect-start",
    "woocommerce-connect-manual",
    "dashboard-enter",
    "woocommerce-auth-callback",
    # The shop comes from Basketry's own signature on the return URL it gave Shopify;
    # tests/integrations/shopify/test_billing.py covers forged, expired and cross-shop returns.
    "shopify-billing-return",
}
# Public storefront reads: the shop comes from the domain and they show only what a storefront
# shows anyway; `test_storefront_never_shows_another_shops_products` covers them.
STOREFRONT_ROUTES = {
    "storefront-recommendations",
    "storefront-events",
    "app-proxy-recommendations",
    "app-proxy-events",
    "app-proxy-widget",
    "demo-product",
    "demo-product-by-handle",
    "demo-cart",
    "demo-cart-add",
    "demo-cart-update",
    "demo-home",
}
# Operator-only routes (Django admin, staff login): cross-shop on purpose, behind staff auth.
OPERATOR_NAMESPACES = {"admin"}
# Shop-scoped routes: each one needs a cross-shop test in this module.
SHOP_SCOPED_ROUTES = {
    "admin-status",
    "admin-privacy-requests",
    "admin-privacy-request",
    "plugin-status",
    "plugin-privacy-export",
    "plugin-privacy-erase",
    "plugin-dashboard-link",
    "plugin-pause",
    "plugin-resume",
    "plugin-uninstall",
    "dashboard-overview",
    "dashboard-insights",
    "dashboard-privacy",
    "dashboard-progress",  # cross-shop cases in tests/shops/test_dashboard_overview.py
    "dashboard-widgets",  # cross-shop cases in tests/recommendations/test_widget_settings.py
    # tests/shops/test_dashboard_rules.py and test_dashboard_recommendations.py: cross-shop cases
    "dashboard-recommendations",
    "dashboard-recommendation-action",
    "dashboard-rules",
    "dashboard-rule-new",
    "dashboard-rule-edit",
    "dashboard-rule-action",
    # tests/shops/test_dashboard_experiments.py
    "dashboard-experiments",
    "dashboard-experiment-stop",
    # tests/integrations/shopify/test_billing.py: another shop's session or ID token changes nothing here
    "dashboard-billing",
}


def _route_names(patterns, namespace: str = "") -> list[str]:
    names = []
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            names += _route_names(pattern.url_patterns, pattern.namespace or namespace)
        elif isinstance(pattern, URLPattern):
            names.append(f"{namespace}:{pattern.name}" if namespace else str(pattern.name))
    return names


def test_every_endpoint_is_classified():
    unclassified = [
        name
        for name in _route_names(get_resolver().url_patterns)
        if name.split(":")[0] not in OPERATOR_NAMESPACES
        and name not in PUBLIC_ROUTES | PLATFORM_ROUTES | STOREFRONT_ROUTES | SHOP_SCOPED_ROUTES
    ]
    assert unclassified == [], "classify these routes and, if shop-scoped, add their cross-shop tests"


@pytest.mark.django_db
def test_admin_requires_staff(client, shop):
    from tests.factories import make_product

    make_product(shop, title="Secret product")
    response = client.get("/admin/shops/product/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def _two_shops_with_the_same_product_ids(shop, other_shop) -> str:
    """Both shops loaded from one demo (same product ids) and trained; the other shop's titles
    differ. Returns a product id both have."""
    import io

    from django.core.management import call_command

    from shops.demo.generator import demo_shop_generate
    from shops.models import Product
    from shops.services.demo import demo_shop_load

    demo = demo_shop_generate(seed=4, product_count=30, order_count=400)
    for owner in (shop, other_shop):
        with shop_scope(owner):
            demo_shop_load(shop=owner, demo=demo)
    with shop_scope(other_shop):
        Product.objects.update(title="Other shop's product")
    for owner in (shop, other_shop):
        call_command("train", owner.domain, stdout=io.StringIO())
    return demo.complementary_pairs[0][0]


@pytest.mark.django_db
def test_storefront_never_shows_another_shops_products(client, shop, other_shop):
    """Same product ids in two shops: each domain answers with its own products only."""
    anchor = _two_shops_with_the_same_product_ids(shop, other_shop)
    for kind in ("related", "bought_together", "cart"):
        mine = client.get(
            "/api/storefront/v1/recommendations", {"shop": shop.domain, "type": kind, "product_id": anchor}
        )
        theirs = client.get(
            "/api/storefront/v1/recommendations", {"shop": other_shop.domain, "type": kind, "product_id": anchor}
        )
        assert mine.status_code == theirs.status_code == 200
        assert mine.json()["items"] and theirs.json()["items"]
        assert all(item["title"] != "Other shop's product" for item in mine.json()["items"])
        assert all(item["title"] == "Other shop's product" for item in theirs.json()["items"])


@pytest.mark.services("redis")
@pytest.mark.django_db
def test_storefront_cache_keys_start_with_their_shop_and_hold_only_its_rows(
    client, shop, other_shop, django_capture_on_commit_callbacks, monkeypatch
):
    """Lists, facts and change feeds are keyed `shop:{id}:` and hold that shop's rows only; a
    change in one shop is announced on its own feed."""
    from django.core.cache import cache

    from recommendations.storefront import cache as caches

    # The shared tier as a shop too large to be held whole uses it (packs: the next test).
    monkeypatch.setattr(caches, "load_once", lambda key, work: None)

    from recommendations.models import ModelVersion
    from recommendations.storefront.service import storefront_memory_clear
    from shops.models import Product
    from shops.records import ProductRecord
    from shops.services.catalog import product_bulk_upsert

    anchor = _two_shops_with_the_same_product_ids(shop, other_shop)
    cache.clear()
    storefront_memory_clear()
    for owner in (shop, other_shop):
        for kind in ("related", "bought_together", "cart"):
            response = client.get(
                "/api/storefront/v1/recommendations", {"shop": owner.domain, "type": kind, "product_id": anchor}
            )
            assert response.status_code == 200
    with shop_scope(other_shop), django_capture_on_commit_callbacks(execute=True):
        product_bulk_upsert(shop=other_shop, records=[ProductRecord(external_id=anchor, title="Changed", price=3)])

    redis = cache._cache.get_client()
    keys = [key.decode().removeprefix(cache.make_key("")) for key in redis.keys("*")]
    owners = {shop.pk: shop, other_shop.pk: other_shop}
    serving = [key for key in keys if ":list:" in key or ":fact:" in key or ":facts:" in key]
    assert {key.split(":")[1] for key in serving} == {str(shop.pk), str(other_shop.pk)}
    for key in serving:
        prefix, shop_id, kind, rest = key.split(":", 3)
        assert prefix == "shop" and int(shop_id) in owners, key
        with shop_scope(owners[int(shop_id)]):
            if kind == "fact":
                assert Product.objects.filter(pk=int(rest)).exists(), key
            elif kind == "list":
                assert ModelVersion.objects.filter(pk=int(rest.split(":")[0])).exists(), key
    with shop_scope(other_shop):
        changed = Product.objects.get(external_id=anchor).pk
    feed = cache.make_key(f"shop:{shop.pk}:facts:feed")
    assert redis.zscore(feed, str(changed)) is None, "a change of the other shop reached this shop's feed"
    assert redis.zscore(cache.make_key(f"shop:{other_shop.pk}:facts:feed"), str(changed))


@pytest.mark.django_db
@pytest.mark.parametrize("warmed", [False, True], ids=["loaded-on-request", "warmed-up"])
def test_a_process_holds_each_shops_pack_and_facts_apart(client, shop, other_shop, warmed):
    """The packs and whole-shop facts a process holds are per shop and name that shop's products
    only, though both shops use the same product ids: loaded on a shop's first request, or for
    every shop at once by a process warming up (which reads across shops)."""
    import gc

    from recommendations.models import ModelVersion
    from recommendations.storefront import cache as caches
    from recommendations.storefront import facts as serving_facts
    from recommendations.storefront import packs
    from recommendations.storefront.service import storefront_memory_clear
    from recommendations.storefront.warm import storefront_warm
    from shops.models import Product

    anchor = _two_shops_with_the_same_product_ids(shop, other_shop)
    storefront_memory_clear()
    if warmed:
        assert set(storefront_warm()) == {shop.pk, other_shop.pk}
        gc.unfreeze()
    shown = {}
    for owner in (shop, other_shop):
        response = client.get(
            "/api/storefront/v1/recommendations", {"shop": owner.domain, "type": "related", "product_id": anchor}
        )
        assert response.status_code == 200
        shown[owner.pk] = response.json()["items"]

    held = packs.packs_held()
    for owner in (shop, other_shop):
        with shop_scope(owner):
            live = ModelVersion.objects.get(status=ModelVersion.Status.LIVE).pk
            own = set(Product.objects.values_list("pk", flat=True))
        assert held[owner.pk] == live
        pack = packs.pack_of(owner.pk, live)
        assert set(pack._pks.tolist()) <= own
        facts = serving_facts._bulk_get(owner.pk)
        if caches.shared_cache_enabled():  # only with a shared cache (the feed) are facts held
            assert facts is not None and set(facts) == own
        else:
            assert facts is None
    assert shown[shop.pk] and shown[other_shop.pk]
    assert all(item["title"] == "Other shop's product" for item in shown[other_shop.pk])
    assert not any(item["title"] == "Other shop's product" for item in shown[shop.pk])


@pytest.mark.django_db
def test_the_admin_api_only_shows_the_authenticated_shops_data(client, settings):
    """Every admin endpoint, with two shops' rows side by side: a shop's token reaches only its
    own, and another shop's id answers 404 exactly like a missing one."""
    from integrations.models import PrivacyRequest
    from tests.factories import make_privacy_request, make_product, make_shop

    settings.SHOPIFY_API_KEY = "isolation-app"
    settings.SHOPIFY_API_SECRET = "isolation-secret-of-at-least-32-bytes"
    mine = make_shop(domain="mine.myshopify.com", platform="shopify")
    theirs = make_shop(domain="theirs.myshopify.com", platform="shopify")
    rows = {}
    for owner, count in ((mine, 1), (theirs, 3)):
        with shop_scope(owner):
            for _ in range(count):
                make_product(owner)
            rows[owner.pk] = make_privacy_request(owner, export={"orders": [], "shop": owner.domain})

    def get(path: str, owner):
        token = id_token(owner.domain, secret=settings.SHOPIFY_API_SECRET, audience=settings.SHOPIFY_API_KEY)
        return client.get(path, headers={"Authorization": f"Bearer {token}"})

    assert get("/api/admin/v1/status", mine).json()["products"] == 1
    assert get("/api/admin/v1/status", theirs).json()["products"] == 3
    listed = get("/api/admin/v1/privacy-requests", mine).json()["privacy_requests"]
    assert [row["id"] for row in listed] == [rows[mine.pk].pk]
    own = get(f"/api/admin/v1/privacy-requests/{rows[mine.pk].pk}", mine)
    assert own.status_code == 200 and own.json()["export"]["shop"] == mine.domain
    foreign = get(f"/api/admin/v1/privacy-requests/{rows[theirs.pk].pk}", mine)
    missing = get(f"/api/admin/v1/privacy-requests/{PrivacyRequest.all_shops.count() + 100}", mine)
    assert foreign.status_code == missing.status_code == 404
    assert foreign.content == missing.content
    # No token, or a query string naming a shop, gets nothing.
    anonymous = client.get("/api/admin/v1/privacy-requests?shop=mine.myshopify.com")
    assert anonymous.status_code in (401, 403) and "privacy_requests" not in anonymous.json()


@pytest.mark.django_db
def test_the_plugin_api_only_reaches_the_signing_stores_data(client):
    """A request signed with one store's plugin key reaches only that store; naming another
    store in the header with that key is refused."""
    import time

    from integrations.woocommerce.views import plugin_signature
    from recommendations.storefront.identity import CREDENTIALS_KEY
    from tests.factories import make_order, make_product, make_shop

    stores = {}
    for domain, orders in (("mine.example", 1), ("theirs.example", 2)):
        shop = make_shop(domain=domain, platform="woocommerce")
        shop.credentials = {CREDENTIALS_KEY: domain[0] * 64, "consumer_key": "ck_x"}
        shop.save()
        with shop_scope(shop):
            for n in range(orders):
                make_order(shop, customer_ref=shop.customer_ref("7"), external_id=f"{domain}-{n}")
            make_product(shop)
        stores[domain] = shop

    def call(method: str, path: str, *, as_domain: str, key_of: str, body: bytes = b""):
        timestamp = str(int(time.time()))
        signature = plugin_signature(
            key=stores[key_of].credentials[CREDENTIALS_KEY], timestamp=timestamp, method=method, path=path, body=body
        )
        headers = {"X-Basketry-Shop": as_domain, "X-Basketry-Timestamp": timestamp, "X-Basketry-Signature": signature}
        if method == "GET":
            return client.get(path, headers=headers)
        return client.post(path, data=body, content_type="application/json", headers=headers)

    assert call("GET", "/api/plugin/v1/status", as_domain="mine.example", key_of="mine.example").json()["orders"] == 1
    assert (
        call("GET", "/api/plugin/v1/status", as_domain="theirs.example", key_of="theirs.example").json()["orders"] == 2
    )
    forged = call("GET", "/api/plugin/v1/status", as_domain="theirs.example", key_of="mine.example")
    assert forged.status_code == 401 and "orders" not in forged.json()

    body = b'{"customer_id": "7"}'
    exported = call("POST", "/api/plugin/v1/privacy/export", as_domain="mine.example", key_of="mine.example", body=body)
    assert [item["item_id"] for item in exported.json()["items"]] == ["basketry-order-mine.example-0"]
    erased = call("POST", "/api/plugin/v1/privacy/erase", as_domain="mine.example", key_of="mine.example", body=body)
    assert erased.json()["removed"] == 1
    with shop_scope(stores["theirs.example"]):
        from shops.models import Order

        assert Order.objects.filter(customer_ref__isnull=False).count() == 2  # the other store untouched
    unsigned = client.post("/api/plugin/v1/privacy/erase", data=body, content_type="application/json")
    assert unsigned.status_code in (401, 403)

    # Pausing and disconnecting reach only the signing store, never the one a header names.
    for path in ("/api/plugin/v1/pause", "/api/plugin/v1/uninstall"):
        forged = call("POST", path, as_domain="theirs.example", key_of="mine.example")
        assert forged.status_code == 401
    assert call("POST", "/api/plugin/v1/pause", as_domain="mine.example", key_of="mine.example").json()["changed"]
    assert call("POST", "/api/plugin/v1/uninstall", as_domain="mine.example", key_of="mine.example").status_code == 200
    from shops.models import Shop

    theirs = Shop.objects.get(domain="theirs.example")
    assert theirs.status == "installed" and theirs.credentials[CREDENTIALS_KEY] == "t" * 64
    assert not theirs.settings.get("woocommerce_paused_at")
    assert Shop.objects.get(domain="mine.example").status == "uninstalled"


@pytest.mark.django_db
def test_the_dashboard_shows_and_changes_only_the_sessions_shop(client, django_capture_on_commit_callbacks):
    """Every dashboard route, with two shops' rows side by side: shop A's session never shows a
    row of shop B, B's rules and tests answer 404 like missing ones, and no write reaches B."""
    from django.urls import reverse

    from integrations.models import AppSubscription, PrivacyRequest
    from recommendations.models import Experiment, MerchantRule
    from shops.dashboard.access import dashboard_link_create
    from shops.models import Shop
    from tests.factories import (
        make_experiment,
        make_merchant_rule,
        make_privacy_request,
        make_product,
        make_shop,
        make_sync_run,
        make_training_run,
    )

    shops = {}
    for name in ("alpha", "beta"):
        owner = make_shop(domain=f"{name}-dash.example", platform="woocommerce")
        with shop_scope(owner):
            product = make_product(owner, external_id="P1", title=f"{name}-secret-product")
            rule = make_merchant_rule(owner, name=f"{name}-secret-rule", params={"product_ids": [product.pk]})
            test = make_experiment(owner, name=f"{name}-secret-test")
            make_sync_run(owner, status="failed", error=f"{name}-secret-error")
            make_training_run(owner, decision=f"{name}-secret-decision")
            make_privacy_request(owner, customer_ref=("a" if name == "alpha" else "b") * 64)
        shops[name] = (owner, product, rule, test)
    alpha, _, alpha_rule, _ = shops["alpha"]
    beta, beta_product, beta_rule, beta_test = shops["beta"]
    client.get("/dashboard/enter?token=" + dashboard_link_create(shop_id=alpha.pk).split("token=", 1)[1])

    pages = {
        "dashboard-overview": ((), {}),
        "dashboard-progress": ((), {}),
        "dashboard-insights": ((), {}),
        "dashboard-privacy": ((), {}),
        "dashboard-widgets": ((), {}),
        "dashboard-recommendations": ((), {"q": "secret-product", "product": "P1", "customer": "7"}),
        "dashboard-rules": ((), {}),
        "dashboard-rule-new": ((), {}),
        "dashboard-rule-edit": ((alpha_rule.pk,), {}),
        "dashboard-experiments": ((), {}),
    }
    writes = {
        "dashboard-recommendation-action",
        "dashboard-rule-action",
        "dashboard-experiment-stop",
        "dashboard-billing",
    }
    dashboard_routes = {name for name in SHOP_SCOPED_ROUTES if name.startswith("dashboard-")}
    assert dashboard_routes == set(pages) | writes, "a dashboard route is missing from this test"

    for name, (args, query) in pages.items():
        response = client.get(reverse(name, args=args), query)
        body = response.content.decode()
        assert response.status_code == 200, name
        assert "beta" not in body, f"{name} shows the other shop"
    assert "alpha-secret-rule" in client.get(reverse("dashboard-rules")).content.decode()

    # The other shop's objects read and write exactly like missing ones.
    for url in (reverse("dashboard-rule-edit", args=(beta_rule.pk,)), reverse("dashboard-rule-edit", args=(10**9,))):
        assert client.get(url).status_code == 404
    with django_capture_on_commit_callbacks(execute=True):
        assert (
            client.post(reverse("dashboard-rule-action", args=(beta_rule.pk,)), {"action": "delete"}).status_code == 404
        )
        assert client.post(reverse("dashboard-rule-edit", args=(beta_rule.pk,)), {"kind": "exclude"}).status_code == 404
        assert client.post(reverse("dashboard-experiment-stop", args=(beta_test.pk,))).status_code == 404
        # Writes that name no object land on the session's shop only, whatever the form says.
        client.post(
            reverse("dashboard-recommendation-action"),
            {"action": "exclude", "anchor": "P1", "item": "P1", "shop": beta.domain, "shop_id": beta.pk},
        )
        client.post(reverse("dashboard-rule-new"), {"kind": "exclude", "product_ids": "P1", "shop_id": beta.pk})
        client.post(
            reverse("dashboard-widgets"),
            {
                "block": "related",
                "enabled": "on",
                "title": "Changed",
                "items": "5",
                "layout": "grid",
                "accent": "#1f6f4a",
            },
        )
        client.post(reverse("dashboard-privacy"), {"form": "retention", "event_days": "7", "shop": beta.domain})
        client.post(
            reverse("dashboard-experiments"),
            {
                "name": "New",
                "block": "cart",
                "strategy_A": "model",
                "weight_A": "50",
                "strategy_B": "none",
                "weight_B": "50",
                "duration_days": "14",
            },
        )
        # Plans are the session's shop's only (and WooCommerce shops are not billed at all).
        billing = client.post(reverse("dashboard-billing"), {"plan": "growth", "shop": beta.domain, "shop_id": beta.pk})
        assert billing.status_code == 400 and "beta" not in billing.content.decode()
    assert AppSubscription.all_shops.filter(shop__in=[alpha, beta]).count() == 0
    assert Shop.objects.get(pk=beta.pk).plan == "free"
    assert MerchantRule.all_shops.filter(shop=beta).count() == 1
    assert MerchantRule.all_shops.get(pk=beta_rule.pk).params == {"product_ids": [beta_product.pk]}
    assert Experiment.all_shops.filter(shop=beta).count() == 1
    assert Experiment.all_shops.get(pk=beta_test.pk).stopped_at is None
    assert Shop.objects.get(pk=beta.pk).settings == {}
    assert PrivacyRequest.all_shops.filter(shop=beta).count() == 1
    assert MerchantRule.all_shops.filter(shop=alpha).count() == 3  # both writes landed on the session's shop
    assert Experiment.all_shops.filter(shop=alpha, block="cart").exists()
    assert Shop.objects.get(pk=alpha.pk).settings.get("widgets", {}).get("related", {}).get("title") == "Changed"


@pytest.mark.django_db
def test_a_webhook_task_naming_another_shops_delivery_touches_nothing(shop, other_shop):
    """The sweeper sends each undone delivery with its own shop id; a task given a mismatched
    pair finds no delivery in its scope, and neither claims nor processes the other shop's."""
    from integrations.models import WebhookDelivery
    from integrations.tasks import webhook_process
    from tests.factories import make_webhook_delivery

    with shop_scope(other_shop):
        theirs = make_webhook_delivery(other_shop, topic="app/scopes_update", work={"scopes": ["x"]})

    webhook_process(shop.pk, theirs.pk)

    theirs = WebhookDelivery.all_shops.get(pk=theirs.pk)
    assert (theirs.status, theirs.attempts) == ("queued", 0)
