"""Which shop a Shopify webhook body belongs to, from what the HMAC covers.

Shopify signs the body only; topic, shop domain, webhook id and triggered-at travel in unsigned
headers, and one app secret signs every store's deliveries. A body captured from one store could
therefore be re-sent under another topic or another store's header. Before anything is recorded:

- the body must have the shape of its topic (a product body is not a `shop/redact`);
- where the body names its shop (compliance topics: `shop_domain` and `shop_id`; `app/uninstalled`:
  the shop resource's `myshopify_domain`/`domain` and `id`; `app/scopes_update`: `shop_id`;
  `app_subscriptions/update`: `app_subscription.admin_graphql_api_shop_id`), the name is required
  and must be the header's shop (the id once a sync has read it);
- product and order bodies do not name the shop, but their ids are global on Shopify: an id that
  belongs to another Shopify shop's known product or order means the body is that shop's.
"""

from __future__ import annotations

from integrations.parsing import PayloadInvalid
from integrations.shopify.mapping import numeric_id
from shops.models import Order, Product, Shop

PRODUCT_TOPICS = ("products/create", "products/update")
ORDER_TOPICS = ("orders/create", "orders/updated", "orders/paid", "orders/cancelled")
COMPLIANCE_TOPICS = ("customers/data_request", "customers/redact", "shop/redact")

# Keys whose presence shows a body is some other topic's resource.
_PRODUCT_KEYS = ("variants", "title")
_ORDER_KEYS = ("line_items", "financial_status")
_COMPLIANCE_KEYS = ("shop_domain",)


class ForeignPayload(PayloadInvalid):
    """The body belongs to another shop (or to no shop Basketry knows as this one)."""


def _has_any(payload: dict, keys: tuple[str, ...]) -> str | None:
    return next((key for key in keys if key in payload), None)


def _refuse_keys(topic: str, payload: dict, *keys: tuple[str, ...]) -> None:
    for group in keys:
        key = _has_any(payload, group)
        if key is not None:
            raise PayloadInvalid(f"a {topic} body has no {key!r}: this is another topic's body")


def _id_of(payload: dict, key: str = "id") -> str:
    value = payload.get(key)
    if type(value) is bool or value is None:
        raise PayloadInvalid(f"{key!r} is required")
    return numeric_id(value)


def _same_shop_id(shop: Shop, value: object, *, field: str) -> None:
    shop_id = numeric_id(value)
    if shop.platform_id and shop.platform_id != shop_id:
        raise ForeignPayload(f"the body's {field} {shop_id} is not this shop's id")


def _same_domain(domain: str, value: object, *, field: str) -> None:
    if not isinstance(value, str) or value.strip().lower() != domain:
        raise ForeignPayload(f"the body's {field} {value!r} is not X-Shopify-Shop-Domain {domain!r}")


def payload_check(*, topic: str, payload: dict, shop: Shop) -> None:
    """Raise PayloadInvalid (ForeignPayload for another shop's body) unless `payload` fits
    `topic` and belongs to `shop`."""
    domain = shop.domain
    if topic in PRODUCT_TOPICS:
        _refuse_keys(topic, payload, _ORDER_KEYS, _COMPLIANCE_KEYS)
        if not isinstance(payload.get("variants"), list) or not isinstance(payload.get("title"), str):
            raise PayloadInvalid(f"a {topic} body needs a title and a list of variants")
        product_id = _id_of(payload)
        _products_of_this_shop(shop=shop, ids=[product_id])
    elif topic == "products/delete":
        _refuse_keys(topic, payload, _PRODUCT_KEYS, _ORDER_KEYS, _COMPLIANCE_KEYS)
        _products_of_this_shop(shop=shop, ids=[_id_of(payload)])
    elif topic in ORDER_TOPICS:
        _refuse_keys(topic, payload, ("variants",), _COMPLIANCE_KEYS)
        lines = payload.get("line_items")
        if not isinstance(lines, list):
            raise PayloadInvalid(f"a {topic} body needs a list of line_items")
        order_id = _id_of(payload)
        if (
            Order.all_shops.filter(external_id=order_id, shop__platform=Shop.Platform.SHOPIFY)
            .exclude(shop_id=shop.pk)
            .exists()
        ):
            raise ForeignPayload(f"order {order_id} belongs to another shop")
        product_ids = [
            numeric_id(line["product_id"]) for line in lines if isinstance(line, dict) and line.get("product_id")
        ]
        _products_of_this_shop(shop=shop, ids=product_ids)
    elif topic in COMPLIANCE_TOPICS:
        _refuse_keys(topic, payload, _PRODUCT_KEYS, _ORDER_KEYS)
        if "shop_domain" not in payload or "shop_id" not in payload:
            raise ForeignPayload(f"a {topic} body must name its shop (shop_domain and shop_id)")
        _same_domain(domain, payload["shop_domain"], field="shop_domain")
        _same_shop_id(shop, payload["shop_id"], field="shop_id")
        if topic != "shop/redact" and not isinstance(payload.get("customer"), dict):
            raise PayloadInvalid(f"a {topic} body needs a customer")
    elif topic == "app/uninstalled":
        # The body is the shop resource itself.
        _refuse_keys(topic, payload, _PRODUCT_KEYS, _ORDER_KEYS, _COMPLIANCE_KEYS)
        if "myshopify_domain" in payload:
            _same_domain(domain, payload["myshopify_domain"], field="myshopify_domain")
        elif "domain" in payload:
            _same_domain(domain, payload["domain"], field="domain")
        else:
            raise ForeignPayload("an app/uninstalled body must name its shop (myshopify_domain)")
        if "id" in payload:
            _same_shop_id(shop, payload["id"], field="id")
    elif topic == "app/scopes_update":
        _refuse_keys(topic, payload, _PRODUCT_KEYS, _ORDER_KEYS, _COMPLIANCE_KEYS)
        if not isinstance(payload.get("current"), list):
            raise PayloadInvalid("an app/scopes_update body needs the current scopes")
        if "shop_id" not in payload:
            raise ForeignPayload("an app/scopes_update body must name its shop (shop_id)")
        # Before a sync has read the shop's id there is nothing to compare with; processing then
        # ignores the body (work_from_payload marks it unbound).
        _same_shop_id(shop, payload["shop_id"], field="shop_id")
    elif topic == "app_subscriptions/update":
        _subscription_check(shop, payload)
    elif topic == "bulk_operations/finish":
        _refuse_keys(topic, payload, _PRODUCT_KEYS, _ORDER_KEYS, _COMPLIANCE_KEYS)
        bulk_id = payload.get("admin_graphql_api_id")
        if not isinstance(bulk_id, str) or not bulk_id.startswith("gid://shopify/BulkOperation/"):
            raise PayloadInvalid("a bulk_operations/finish body needs the operation's admin_graphql_api_id")
        # Processing only wakes a sync of this shop waiting on that very operation id.


def _subscription_check(shop: Shop, payload: dict) -> None:
    """`app_subscriptions/update` (Shopify Billing): the subscription must name its shop, and that
    shop must be this one once a sync has read its id (before that, processing only reads the
    shop's subscriptions from Shopify: the body itself changes nothing)."""
    _refuse_keys("app_subscriptions/update", payload, _PRODUCT_KEYS, _ORDER_KEYS, _COMPLIANCE_KEYS)
    subscription = payload.get("app_subscription")
    if not isinstance(subscription, dict):
        raise PayloadInvalid("an app_subscriptions/update body needs its app_subscription")
    subscription_id = subscription.get("admin_graphql_api_id")
    if not isinstance(subscription_id, str) or not subscription_id.startswith("gid://shopify/AppSubscription/"):
        raise PayloadInvalid("an app_subscriptions/update body needs the subscription's admin_graphql_api_id")
    if "admin_graphql_api_shop_id" not in subscription:
        raise ForeignPayload("an app_subscriptions/update body must name its shop (admin_graphql_api_shop_id)")
    _same_shop_id(shop, subscription["admin_graphql_api_shop_id"], field="admin_graphql_api_shop_id")
    if not isinstance(subscription.get("status"), str):
        raise PayloadInvalid("an app_subscriptions/update body needs the subscription's status")


def _products_of_this_shop(*, shop: Shop, ids: list[str]) -> None:
    if not ids:
        return
    foreign = (
        Product.all_shops.filter(external_id__in=ids, shop__platform=Shop.Platform.SHOPIFY)
        .exclude(shop_id=shop.pk)
        .values_list("external_id", flat=True)
        .first()
    )
    if foreign is not None:
        raise ForeignPayload(f"product {foreign} belongs to another shop")
