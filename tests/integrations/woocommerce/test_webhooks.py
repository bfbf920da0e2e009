"""POST /webhooks/woocommerce/<shop id>: ping, signature, dedup, stale deliveries, every topic."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid

import pytest

from integrations.models import WebhookDelivery
from shops.models import Order, OrderLine, Product
from shops.tenancy import shop_scope
from tests.factories import make_shop

SECRET = "woo-webhook-secret"
pytestmark = pytest.mark.django_db


@pytest.fixture
def store():
    shop = make_shop(domain="woo-hooks.example", platform="woocommerce")
    shop.credentials = {"webhook_secret": SECRET, "consumer_key": "ck_x", "store_url": "https://woo-hooks.example"}
    shop.save()
    return shop


def php_json(payload: dict) -> bytes:
    # What WordPress sends: "/" escaped, non-ASCII as \\u escapes, compact.
    return json.dumps(payload, separators=(",", ":")).replace("/", "\\/").encode()


def deliver(client, shop, topic, payload, *, secret=SECRET, delivery_id=None, capture=None):
    body = payload if isinstance(payload, bytes) else php_json(payload)
    signature = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    headers = {
        "X-WC-Webhook-Topic": topic,
        "X-WC-Webhook-Resource": topic.split(".")[0],
        "X-WC-Webhook-Event": topic.split(".")[1],
        "X-WC-Webhook-Signature": signature,
        "X-WC-Webhook-ID": "12",
        "X-WC-Webhook-Delivery-ID": delivery_id or uuid.uuid4().hex,
        "X-WC-Webhook-Source": "https://woo-hooks.example/",
    }
    post = lambda: client.post(  # noqa: E731
        f"/webhooks/woocommerce/{shop.pk}", data=body, content_type="application/json", headers=headers
    )
    if capture is None:
        return post()
    with capture(execute=True):
        return post()


def product(product_id=31, *, name="Linen apron", modified="2026-11-20T10:00:00", **extra):
    return {
        "id": product_id,
        "name": name,
        "slug": f"p-{product_id}",
        "permalink": f"https://woo-hooks.example/product/p-{product_id}/",
        "type": "simple",
        "status": "publish",
        "catalog_visibility": "visible",
        "price": "24.00",
        "stock_status": "instock",
        "categories": [{"id": 9, "name": "Kitchen", "slug": "kitchen"}],
        "tags": [{"id": 3, "name": "linen", "slug": "linen"}],
        "images": [{"id": 1, "src": "https://woo-hooks.example/a.jpg"}],
        "short_description": "<p>Soft &amp; strong</p>",
        "date_created_gmt": "2026-01-01T00:00:00",
        "date_modified_gmt": modified,
        **extra,
    }


def order(order_id=700, *, status="processing", modified="2026-11-20T10:00:00", customer_id=5, products=(31,)):
    return {
        "id": order_id,
        "status": status,
        "currency": "EUR",
        "customer_id": customer_id,
        "total": "48.00",
        "date_created_gmt": "2026-11-19T09:00:00",
        "date_modified_gmt": modified,
        "billing": {"first_name": "Ada", "email": "ada@example.com", "phone": "555-0100", "address_1": "1 Main St"},
        "line_items": [
            {
                "id": 9000 + n,
                "name": f"Item {pid}",
                "product_id": pid,
                "variation_id": 0,
                "quantity": 2,
                "price": 12,
                "meta_data": [{"id": 1, "key": "_basketry", "value": "related"}] if n == 0 else [],
            }
            for n, pid in enumerate(products)
        ],
    }


def test_the_creation_ping_is_answered_and_stores_nothing(client, store):
    response = client.post(
        f"/webhooks/woocommerce/{store.pk}", data="webhook_id=12", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 200
    with shop_scope(store):
        assert not WebhookDelivery.objects.exists()


@pytest.mark.parametrize("case", ["bad_signature", "other_shop", "unknown_shop", "malformed"])
def test_unverified_or_malformed_deliveries_store_nothing(client, store, case):
    other = make_shop(domain="other-woo.example", platform="woocommerce")
    other.credentials = {"webhook_secret": "another-secret"}
    other.save()
    target = store
    kwargs = {}
    payload = product()
    if case == "bad_signature":
        kwargs["secret"] = "not-the-secret"
    elif case == "other_shop":
        target = other  # signed with this store's secret, sent to the other's URL
    elif case == "unknown_shop":
        target = type(store)(pk=store.pk + 100)
    else:
        payload = b"{not json"
    response = deliver(client, target, "product.updated", payload, **kwargs)
    assert response.status_code == (400 if case == "malformed" else 401)
    assert not WebhookDelivery.all_shops.exists() and not Product.all_shops.exists()


def test_products_follow_updates_once_and_ignore_late_ones(client, store, django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    deliver(client, store, "product.created", product(), delivery_id="d1", capture=capture)
    again = deliver(client, store, "product.created", product(), delivery_id="d1", capture=capture)
    assert again.json() == {"ok": "duplicate delivery"}
    deliver(client, store, "product.updated", product(name="Old name", modified="2026-11-19T00:00:00"), capture=capture)
    deliver(
        client,
        store,
        "product.updated",
        product(catalog_visibility="hidden", modified="2026-11-21T00:00:00"),
        capture=capture,
    )
    with shop_scope(store):
        saved = Product.objects.get(external_id="31")
    assert saved.title == "Linen apron" and saved.status == "unlisted" and saved.description == "Soft & strong"
    assert saved.category == "Kitchen" and saved.tags == ["linen"]

    deliver(client, store, "product.deleted", {"id": 31}, capture=capture)
    with shop_scope(store):
        assert Product.objects.get(external_id="31").status == "deleted"
    deliver(client, store, "product.restored", product(modified="2026-11-22T00:00:00"), capture=capture)
    with shop_scope(store):
        assert Product.objects.get(external_id="31").status == "published"


def test_orders_keep_no_shopper_data_and_follow_status_changes(client, store, django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    deliver(client, store, "order.created", order(products=(31, 32)), capture=capture)
    with shop_scope(store):
        saved = Order.objects.get(external_id="700")
        work = json.dumps(list(WebhookDelivery.objects.values_list("work", flat=True)))
        lines = sorted(OrderLine.objects.values_list("product__external_id", "quantity", "unit_price"))
    assert saved.status == "paid" and saved.customer_ref == store.customer_ref("5")
    assert [(pid, qty, float(price)) for pid, qty, price in lines] == [("31", 2, 12.0), ("32", 2, 12.0)]
    with shop_scope(store):
        assert dict(OrderLine.objects.values_list("product__external_id", "source_block")) == {
            "31": "related",
            "32": "",
        }
    for personal in ("Ada", "ada@example.com", "555-0100", "Main St"):
        assert personal not in work

    deliver(client, store, "order.updated", order(status="refunded", modified="2026-11-21T00:00:00"), capture=capture)
    deliver(client, store, "order.updated", order(status="processing", modified="2026-11-20T05:00:00"), capture=capture)
    with shop_scope(store):
        assert Order.objects.get(external_id="700").status == "refunded"
    deliver(client, store, "order.deleted", {"id": 700}, capture=capture)
    with shop_scope(store):
        assert Order.objects.get(external_id="700").status == "cancelled"
    # A change from before the trashing, delivered after it, does not bring the order back.
    deliver(client, store, "order.updated", order(status="processing", modified="2026-11-22T00:00:00"), capture=capture)
    with shop_scope(store):
        assert Order.objects.get(external_id="700").status == "cancelled"


def test_checkout_drafts_and_unhandled_topics_are_answered_and_ignored(
    client, store, django_capture_on_commit_callbacks
):
    response = deliver(
        client, store, "order.created", order(status="checkout-draft"), capture=django_capture_on_commit_callbacks
    )
    coupon = deliver(client, store, "coupon.created", {"id": 1})
    assert response.status_code == coupon.status_code == 200
    with shop_scope(store):
        assert not Order.objects.exists()
        assert WebhookDelivery.objects.get().status == "ignored"


def test_variation_changes_queue_one_reconciliation_a_minute(
    client, store, django_capture_on_commit_callbacks, monkeypatch
):
    queued = []
    monkeypatch.setattr(
        "integrations.tasks.sync_run.apply_async", lambda args, countdown: queued.append((args, countdown))
    )
    for variation_id in (41, 42, 43):
        deliver(
            client,
            store,
            "product.updated",
            {"id": variation_id, "parent_id": 31, "date_modified_gmt": "2026-11-20T10:00:00"},
            capture=django_capture_on_commit_callbacks,
        )
    assert queued == [((store.pk, "reconcile"), 60)]
    with shop_scope(store):
        assert WebhookDelivery.objects.filter(status="done").count() == 3


def test_a_delivery_id_one_store_sends_does_not_block_another_stores(client, store, django_capture_on_commit_callbacks):
    other = make_shop(domain="other-woo.example", platform="woocommerce")
    other.credentials = {"webhook_secret": "another-secret", "consumer_key": "ck_x"}
    other.save()
    first = deliver(client, store, "product.updated", product(), delivery_id="same-id")
    second = deliver(client, other, "product.updated", product(), secret="another-secret", delivery_id="same-id")
    assert first.json() == second.json() == {"ok": "queued"}
    assert WebhookDelivery.all_shops.filter(delivery_id="same-id").count() == 2
