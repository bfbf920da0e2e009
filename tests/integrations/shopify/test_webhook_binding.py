"""A signed Shopify body re-sent under another topic or another shop's header is refused.

Shopify's HMAC covers the body only, and one app secret signs every store's deliveries: these are
the replay attacks a captured delivery allows, each refused before anything is recorded.
"""

from __future__ import annotations

import pytest

from integrations.models import WebhookDelivery
from shops.models import Order, Product, Shop
from shops.tenancy import shop_scope
from tests.factories import make_order, make_product, make_shop
from tests.integrations.shopify.conftest import signed_webhook
from tests.integrations.shopify.test_webhooks import order_payload, product_payload

ATTACKER = "attacker.myshopify.com"
VICTIM = "victim.myshopify.com"
pytestmark = pytest.mark.django_db


@pytest.fixture
def shops(shopify_settings, django_capture_on_commit_callbacks):
    attacker = make_shop(domain=ATTACKER, platform="shopify")
    victim = make_shop(domain=VICTIM, platform="shopify")
    victim.platform_id = "2002"
    victim.save(update_fields=["platform_id"])
    with shop_scope(victim):
        make_product(victim, external_id="7001", title="Victim's kettle")
    with shop_scope(attacker):
        make_product(attacker, external_id="1001", title="Attacker's apron")
        make_order(attacker, external_id="5001")
    return attacker, victim


def send(client, topic, payload, domain=VICTIM, **kwargs):
    return signed_webhook(client, topic=topic, domain=domain, payload=payload, **kwargs)


def nothing_recorded(shop: Shop) -> bool:
    with shop_scope(shop):
        return not WebhookDelivery.objects.exists()


def victim_intact(victim: Shop) -> bool:
    victim = Shop.objects.get(pk=victim.pk)
    with shop_scope(victim):
        return victim.status == Shop.Status.INSTALLED and Product.objects.filter(external_id="7001").exists()


@pytest.mark.parametrize("topic", ["shop/redact", "customers/redact", "customers/data_request"])
def test_a_product_body_replayed_as_a_compliance_topic_deletes_nothing(client, shops, topic):
    _, victim = shops
    response = send(client, topic, product_payload(1001))

    assert response.status_code in (400, 403)
    assert victim_intact(victim) and nothing_recorded(victim)


@pytest.mark.parametrize("topic", ["shop/redact", "customers/redact", "customers/data_request"])
def test_a_compliance_body_of_another_shop_is_refused(client, shops, topic):
    _, victim = shops
    body = {"shop_id": 1001, "shop_domain": ATTACKER, "customer": {"id": 1}, "orders_to_redact": []}

    response = send(client, topic, body)

    assert response.status_code == 403
    assert "shop_domain" in response.json()["error"]
    assert victim_intact(victim) and nothing_recorded(victim)


def test_a_compliance_body_must_name_its_shop_and_the_known_shop_id(client, shops):
    _, victim = shops
    without_id = send(client, "shop/redact", {"shop_domain": VICTIM})
    wrong_id = send(client, "shop/redact", {"shop_domain": VICTIM, "shop_id": 9999})

    assert without_id.status_code == wrong_id.status_code == 403
    assert "shop_id" in wrong_id.json()["error"]
    assert victim_intact(victim) and nothing_recorded(victim)


def test_the_victims_own_shop_redact_still_works(client, shops, django_capture_on_commit_callbacks):
    _, victim = shops
    with django_capture_on_commit_callbacks(execute=True):
        response = send(client, "shop/redact", {"shop_domain": VICTIM, "shop_id": 2002})

    assert response.status_code == 200
    assert not Shop.objects.filter(pk=victim.pk).exists()


def test_another_shops_app_uninstalled_body_does_not_uninstall(client, shops):
    _, victim = shops
    attacker_shop_body = {"id": 1001, "name": "Attacker", "domain": "attacker.example", "myshopify_domain": ATTACKER}

    response = send(client, "app/uninstalled", attacker_shop_body)
    no_name = send(client, "app/uninstalled", {"id": 2002})

    assert response.status_code == no_name.status_code == 403
    assert victim_intact(victim) and nothing_recorded(victim)


def test_the_victims_own_app_uninstalled_still_works(client, shops, django_capture_on_commit_callbacks):
    _, victim = shops
    with django_capture_on_commit_callbacks(execute=True):
        response = send(client, "app/uninstalled", {"id": 2002, "myshopify_domain": VICTIM, "domain": "victim.example"})

    assert response.status_code == 200
    assert Shop.objects.get(pk=victim.pk).status == Shop.Status.UNINSTALLED


def test_a_product_or_order_of_another_shop_is_refused(client, shops):
    _, victim = shops
    product = send(client, "products/update", product_payload(1001, title="Planted"))
    delete = send(client, "products/delete", {"id": 1001})
    order = send(client, "orders/create", order_payload(5001, products=(7001,)))
    # A new order id, but its lines name the other shop's product: placeholders would plant it here.
    lines = send(client, "orders/create", order_payload(5999, products=(1001,)))

    assert [r.status_code for r in (product, delete, order, lines)] == [403, 403, 403, 403]
    with shop_scope(victim):
        assert not Product.objects.filter(external_id="1001").exists()
        assert not Order.objects.exists()
    assert nothing_recorded(victim)


@pytest.mark.parametrize(
    "topic,body",
    [
        ("products/update", order_payload(5002, products=(7001,))),
        ("orders/create", product_payload(7001)),
        ("products/delete", product_payload(7001)),
        ("bulk_operations/finish", product_payload(7001)),
        ("bulk_operations/finish", {"admin_graphql_api_id": "gid://shopify/Product/7001", "status": "completed"}),
        ("app/scopes_update", product_payload(7001)),
        ("customers/redact", {"shop_domain": VICTIM, "shop_id": 2002}),
    ],
)
def test_a_body_whose_shape_does_not_fit_its_topic_is_refused(client, shops, topic, body):
    _, victim = shops
    response = send(client, topic, body)

    assert response.status_code == 400
    assert victim_intact(victim) and nothing_recorded(victim)
    with shop_scope(victim):
        assert Product.objects.get(external_id="7001").title == "Victim's kettle"


def test_scopes_update_is_bound_by_the_shop_id(client, shops, django_capture_on_commit_callbacks):
    attacker, victim = shops
    victim.credentials = {"access_token": "shpat_x", "scope": "read_products"}
    victim.save()
    attacker.credentials = {"access_token": "shpat_y", "scope": "read_products"}
    attacker.save()
    body = {"id": 1, "previous": ["read_products"], "current": ["read_products", "read_all_orders"]}

    with django_capture_on_commit_callbacks(execute=True):
        foreign = send(client, "app/scopes_update", {**body, "shop_id": 1001})
        own = send(client, "app/scopes_update", {**body, "shop_id": 2002})
        # The attacker's shop has no id on record yet: recorded, but nothing ties the body to it.
        unbound = send(client, "app/scopes_update", {**body, "shop_id": 2002}, domain=ATTACKER)

    assert (foreign.status_code, own.status_code, unbound.status_code) == (403, 200, 200)
    assert Shop.objects.get(pk=victim.pk).credentials["scope"] == "read_products,read_all_orders"
    assert Shop.objects.get(pk=attacker.pk).credentials["scope"] == "read_products"
    with shop_scope(attacker):
        assert WebhookDelivery.objects.get().status == WebhookDelivery.Status.IGNORED


def test_the_shops_own_product_and_order_are_accepted(client, shops, django_capture_on_commit_callbacks):
    _, victim = shops
    with django_capture_on_commit_callbacks(execute=True):
        product = send(client, "products/update", product_payload(7001, title="Victim's new kettle"))
        order = send(client, "orders/create", order_payload(6001, products=(7001,)))

    assert product.status_code == order.status_code == 200
    with shop_scope(victim):
        assert Product.objects.get(external_id="7001").title == "Victim's new kettle"
        assert Order.objects.filter(external_id="6001").exists()


@pytest.mark.parametrize(
    "body,headers,message",
    [
        (b'{"id": "\xff\xfe"}', {}, "UTF-8"),
        (b"[" * 100_000 + b"]" * 100_000, {}, "JSON"),
        (None, {"X-Shopify-Webhook-Id": "w" * 256}, "Webhook-Id"),
    ],
    ids=["not-utf8", "deeply-nested", "long-webhook-id"],
)
def test_malformed_deliveries_get_a_clear_400(client, shops, body, headers, message):
    _, victim = shops
    response = send(client, "products/update", body if body is not None else product_payload(7001), **headers)

    assert response.status_code == 400
    assert message in response.json()["error"]
    assert nothing_recorded(victim)
