"""POST /webhooks/shopify: verification, dedup, stale deliveries, every topic, compliance."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from django.apps import apps
from django.utils import timezone

from integrations.models import PrivacyRequest, WebhookDelivery
from shops.models import Order, OrderLine, Product, Shop
from shops.tenancy import ShopOwnedModel, shop_scope
from tests.factories import make_order, make_order_line, make_product, make_shop
from tests.integrations.shopify.conftest import OLD_SECRET, signed_webhook

DOMAIN = "hooks.myshopify.com"
pytestmark = pytest.mark.django_db


@pytest.fixture
def store(shopify_settings):
    shop = make_shop(domain=DOMAIN, platform="shopify")
    shop.credentials = {
        "access_token": "shpat_x",
        "refresh_token": "shprt_x",
        "scope": "read_products,read_orders,read_customers,write_app_proxy",
    }
    shop.save()
    return shop


def iso(moment: dt.datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def product_payload(product_id=1001, *, title="Linen apron", updated_at=None, status="active", quantity=5):
    return {
        "id": product_id,
        "title": title,
        "handle": f"product-{product_id}",
        "status": status,
        "vendor": "Acme",
        "product_type": "Kitchen",
        "tags": "linen, kitchen",
        "body_html": "<p>Soft &amp; strong</p>",
        "created_at": "2026-01-05T10:00:00-05:00",
        "updated_at": iso(updated_at or timezone.now()),
        "image": {"src": "https://cdn.shopify.com/apron.jpg"},
        "variants": [{"id": 1, "price": "24.00", "inventory_quantity": quantity, "inventory_policy": "deny"}],
    }


def order_payload(order_id=5001, *, products=(1001,), customer_id=77, updated_at=None, cancelled=False, test=False):
    return {
        "id": order_id,
        "created_at": "2026-11-01T09:00:00Z",
        "updated_at": iso(updated_at or timezone.now()),
        "cancelled_at": "2026-11-02T09:00:00Z" if cancelled else None,
        "financial_status": "paid",
        "test": test,
        "currency": "EUR",
        "total_price": "48.00",
        "email": "shopper@example.com",
        "customer": {"id": customer_id, "email": "shopper@example.com", "first_name": "Ada", "phone": "555-0100"},
        "shipping_address": {"address1": "1 Main St", "name": "Ada Lovelace"},
        "line_items": [
            {
                "id": 9000 + i,
                "product_id": pid,
                "variant_id": 1,
                "title": f"Item {pid}",
                "quantity": 1,
                "price": "24.00",
                # The widget's cart line mark on the first line; a foreign value on the others.
                "properties": [{"name": "_basketry", "value": "bought_together" if i == 0 else "<script>"}],
            }
            for i, pid in enumerate(products)
        ],
    }


def deliver(client, capture, topic, payload, **kwargs):
    with capture(execute=True):
        return signed_webhook(client, topic=topic, domain=DOMAIN, payload=payload, **kwargs)


def test_a_product_update_is_stored_once_however_often_it_is_delivered(
    client, store, django_capture_on_commit_callbacks
):
    first = deliver(client, django_capture_on_commit_callbacks, "products/update", product_payload(), webhook_id="w-1")
    again = deliver(client, django_capture_on_commit_callbacks, "products/update", product_payload(), webhook_id="w-1")

    assert first.status_code == again.status_code == 200
    assert again.json() == {"ok": "duplicate delivery"}
    with shop_scope(store):
        product = Product.objects.get(external_id="1001")
        assert WebhookDelivery.objects.get().status == "done"
    assert (product.title, product.status, product.in_stock, product.tags) == (
        "Linen apron",
        "published",
        True,
        ["linen", "kitchen"],
    )
    assert product.description == "Soft & strong" and product.url == f"https://{DOMAIN}/products/product-1001"


def test_stale_and_late_deliveries_change_nothing(client, store, django_capture_on_commit_callbacks):
    now = timezone.now()
    deliver(client, django_capture_on_commit_callbacks, "products/update", product_payload(updated_at=now))
    older = product_payload(title="Old title", updated_at=now - dt.timedelta(minutes=5))
    deliver(client, django_capture_on_commit_callbacks, "products/update", older)
    # A delete fired before the product's last change (a restore came after it) is ignored too.
    deliver(
        client,
        django_capture_on_commit_callbacks,
        "products/delete",
        {"id": 1001},
        triggered_at=iso(now - dt.timedelta(minutes=1)),
    )
    with shop_scope(store):
        product = Product.objects.get(external_id="1001")
        statuses = sorted(WebhookDelivery.objects.values_list("topic", "status"))
    assert product.title == "Linen apron" and product.status == "published"
    assert statuses == [("products/delete", "ignored"), ("products/update", "done"), ("products/update", "done")]

    deliver(client, django_capture_on_commit_callbacks, "products/delete", {"id": 1001})
    with shop_scope(store):
        assert Product.objects.get(external_id="1001").status == "deleted"


def test_orders_keep_no_shopper_data_and_follow_later_changes(client, store, django_capture_on_commit_callbacks):
    now = timezone.now()
    placed = order_payload(products=(1001, 1002), updated_at=now - dt.timedelta(minutes=10))
    deliver(client, django_capture_on_commit_callbacks, "orders/create", placed)
    with shop_scope(store):
        order = Order.objects.get(external_id="5001")
        lines = sorted(OrderLine.objects.values_list("product__external_id", "product__status"))
        stored_work = json.dumps(list(WebhookDelivery.objects.values_list("work", flat=True)))
    assert order.status == "paid" and order.customer_ref == store.customer_ref("77")
    # Products the order names before their own webhooks arrive wait as drafts, never shown.
    assert lines == [("1001", "draft"), ("1002", "draft")]
    with shop_scope(store):
        marks = dict(OrderLine.objects.values_list("product__external_id", "source_block"))
    assert marks == {"1001": "bought_together", "1002": ""}  # only Basketry's own blocks count
    for personal in ("shopper@example.com", "Ada", "555-0100", "Main St", '"77"'):
        assert personal not in stored_work

    cancelled = order_payload(products=(1001,), cancelled=True, updated_at=now)
    deliver(client, django_capture_on_commit_callbacks, "orders/cancelled", cancelled)
    deliver(client, django_capture_on_commit_callbacks, "orders/updated", placed)  # late, older: ignored
    with shop_scope(store):
        order.refresh_from_db()
        assert order.status == "cancelled"
        assert list(OrderLine.objects.filter(order=order).values_list("product__external_id", flat=True)) == ["1001"]


@pytest.mark.parametrize("credentials", [{"scope": "read_products,read_orders"}, {"customers_denied": True}])
def test_without_customer_access_orders_arrive_as_anonymous_baskets(
    client, store, django_capture_on_commit_callbacks, credentials
):
    """read_customers not granted, or Shopify refused customer data on the last sync: the syncs
    read anonymous baskets, and the webhooks keep none of the customer either."""
    store.credentials = {**store.credentials, **credentials}
    store.save()
    deliver(client, django_capture_on_commit_callbacks, "orders/create", order_payload(products=(1001, 1002)))
    with shop_scope(store):
        order = Order.objects.get(external_id="5001")
        assert order.customer_ref in (None, "") and OrderLine.objects.filter(order=order).count() == 2
    store.refresh_from_db()
    from shops.dashboard.views.overview import _customer_access

    assert "anonymous baskets" in _customer_access(store) and "personal recommendations are off" in _customer_access(
        store
    )


def test_a_product_update_keeps_the_collections_the_sync_stored(client, store, django_capture_on_commit_callbacks):
    """Product webhooks carry no collections: the `collection:` tags stay until a sync refreshes them."""
    from shops.records import ProductRecord
    from shops.services.catalog import product_bulk_upsert

    with shop_scope(store):
        product_bulk_upsert(
            shop=store,
            records=[
                ProductRecord(
                    external_id="1001",
                    title="Linen apron",
                    price=Decimal("24.00"),
                    tags=("linen", "collection:kitchen", "collection:summer"),
                    updated_at=timezone.now() - dt.timedelta(hours=1),
                )
            ],
        )
    payload = {**product_payload(title="Linen apron, washed"), "tags": "linen, washed"}
    deliver(client, django_capture_on_commit_callbacks, "products/update", payload)
    with shop_scope(store):
        product = Product.objects.get(external_id="1001")
    assert product.title == "Linen apron, washed"
    assert set(product.tags) == {"linen", "washed", "collection:kitchen", "collection:summer"}


@pytest.mark.parametrize(
    "case,status",
    [("bad_hmac", 401), ("no_hmac", 401), ("malformed", 400), ("other_shop_in_payload", 403), ("huge", 413)],
)
def test_bad_deliveries_store_nothing(client, store, settings, case, status):
    payload = product_payload()
    kwargs = {}
    if case == "bad_hmac":
        kwargs["secret"] = "not-the-secret"
    elif case == "malformed":
        payload = b"{not json"
    elif case == "other_shop_in_payload":
        payload = {"shop_id": 1, "shop_domain": "victim.myshopify.com", "customer": {"id": 1}}
    elif case == "huge":
        settings.SHOPIFY_WEBHOOK_MAX_BYTES = 1000
        payload = {**payload, "body_html": "x" * 2000}
    topic = "customers/redact" if case == "other_shop_in_payload" else "products/update"
    if case == "no_hmac":
        response = client.post(
            "/webhooks/shopify",
            data=json.dumps(payload),
            content_type="application/json",
            headers={"X-Shopify-Topic": topic, "X-Shopify-Shop-Domain": DOMAIN, "X-Shopify-Webhook-Id": "x"},
        )
    else:
        response = signed_webhook(client, topic=topic, domain=DOMAIN, payload=payload, **kwargs)
    assert response.status_code == status
    with shop_scope(store):
        assert not WebhookDelivery.objects.exists() and not Product.objects.exists()


def test_only_post_is_accepted(client, store):
    response = client.get("/webhooks/shopify")
    assert response.status_code == 405 and response["Allow"] == "POST"


def test_the_previous_secret_is_accepted_during_a_rotation(client, store, settings):
    settings.SHOPIFY_API_SECRET_OLD = OLD_SECRET
    response = signed_webhook(
        client, topic="products/update", domain=DOMAIN, payload=product_payload(), secret=OLD_SECRET
    )
    assert response.status_code == 200
    with shop_scope(store):
        assert WebhookDelivery.objects.count() == 1


def test_customers_redact_leaves_only_anonymous_baskets(client, store, django_capture_on_commit_callbacks):
    deliver(client, django_capture_on_commit_callbacks, "orders/create", order_payload(order_id=1, customer_id=77))
    deliver(client, django_capture_on_commit_callbacks, "orders/create", order_payload(order_id=2, customer_id=88))
    payload = {
        "shop_id": 1,
        "shop_domain": DOMAIN,
        "customer": {"id": 77, "email": "shopper@example.com", "phone": "555-0100"},
        "orders_to_redact": [1],
    }
    deliver(client, django_capture_on_commit_callbacks, "customers/redact", payload)
    with shop_scope(store):
        refs = dict(Order.objects.values_list("external_id", "customer_ref"))
        request = PrivacyRequest.objects.get()
        assert OrderLine.objects.filter(order__external_id="1").count() == 1  # the basket stays
    assert refs == {"1": None, "2": store.customer_ref("88")}
    assert request.kind == "customer_redact" and request.completed_at is not None
    assert "shopper@example.com" not in json.dumps(request.export)


def test_a_data_request_assembles_what_is_held_on_that_customer(client, store, django_capture_on_commit_callbacks):
    deliver(client, django_capture_on_commit_callbacks, "orders/create", order_payload(order_id=1, customer_id=77))
    deliver(client, django_capture_on_commit_callbacks, "orders/create", order_payload(order_id=2, customer_id=88))
    payload = {
        "shop_id": 1,
        "shop_domain": DOMAIN,
        "orders_requested": [1],
        "customer": {"id": 77, "email": "shopper@example.com", "phone": "555-0100"},
        "data_request": {"id": 9999},
    }
    deliver(client, django_capture_on_commit_callbacks, "customers/data_request", payload)
    with shop_scope(store):
        request = PrivacyRequest.objects.get()
    assert request.platform_request_id == "9999" and request.completed_at is not None
    assert [order["order_id"] for order in request.export["orders"]] == ["1"]
    assert request.export["orders"][0]["lines"][0]["product_id"] == "1001"


def test_uninstall_drops_the_tokens_and_stops_serving_at_once(client, store, django_capture_on_commit_callbacks):
    response = client.get("/api/storefront/v1/recommendations", {"shop": DOMAIN, "type": "related", "product_id": "1"})
    assert response.status_code == 200
    deliver(client, django_capture_on_commit_callbacks, "app/uninstalled", {"id": 1, "domain": DOMAIN})
    store.refresh_from_db()
    assert store.status == "uninstalled" and "access_token" not in store.credentials
    assert "refresh_token" not in store.credentials
    response = client.get("/api/storefront/v1/recommendations", {"shop": DOMAIN, "type": "related", "product_id": "1"})
    assert response.status_code == 404


def test_shop_redact_leaves_no_row_of_that_shop_in_any_table(client, store, django_capture_on_commit_callbacks):
    from tests.factories import ROW_FACTORIES

    other = make_shop(domain="bystander.myshopify.com", platform="shopify")
    for owner in (store, other):
        with shop_scope(owner):
            for factory in ROW_FACTORIES.values():
                factory(owner)
            order = make_order(owner)
            make_order_line(owner, order=order, product=make_product(owner))
    deliver(client, django_capture_on_commit_callbacks, "shop/redact", {"shop_id": 1, "shop_domain": DOMAIN})

    shop_owned = [model for model in apps.get_models() if issubclass(model, ShopOwnedModel)]
    assert len(shop_owned) == len(ROW_FACTORIES)
    for model in shop_owned:
        assert not model.all_shops.filter(shop_id=store.pk).exists(), model.__name__
        assert model.all_shops.filter(shop_id=other.pk).exists(), model.__name__
    assert not Shop.objects.filter(pk=store.pk).exists()
    # A late delivery for the purged shop is answered (so Shopify stops retrying) and ignored.
    late = signed_webhook(client, topic="products/update", domain=DOMAIN, payload=product_payload())
    assert late.status_code == 200 and late.json() == {"ok": "unknown shop: ignored"}


def test_processed_deliveries_are_forgotten_after_the_retention_period(store, settings):
    from integrations.tasks import webhook_deliveries_purge
    from tests.factories import make_webhook_delivery

    with shop_scope(store):
        old_done = make_webhook_delivery(store, status="done")
        old_queued = make_webhook_delivery(store, status="queued")
        recent = make_webhook_delivery(store, status="done")
        WebhookDelivery.objects.filter(pk__in=[old_done.pk, old_queued.pk]).update(
            received_at=timezone.now() - dt.timedelta(days=settings.WEBHOOK_RETENTION_DAYS + 1)
        )
    assert webhook_deliveries_purge() == 1
    with shop_scope(store):
        assert set(WebhookDelivery.objects.values_list("pk", flat=True)) == {old_queued.pk, recent.pk}
