"""POST /api/storefront/v1/events and the daily rollup: who may post (page tokens, Shopify's App
Proxy), validation, rate limits, privacy, retention."""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid

import pytest
from django.test import RequestFactory
from django.utils import timezone

from recommendations.models import EventDailyRollup, ShopperEvent
from recommendations.services.events import events_roll_up
from recommendations.storefront.identity import customer_token_sign
from recommendations.storefront.page_tokens import PAGE_TOKEN_LIFETIME_SECONDS, page_token_sign, page_token_verify
from recommendations.storefront.rate_limits import client_address
from shops.services.shops import shop_storefront_token_key_get
from shops.tenancy import shop_scope
from tests.factories import make_shop, make_shopper_event

URL = "/api/storefront/v1/events"
pytestmark = pytest.mark.django_db


def post(client, body, content_type="text/plain", **headers):
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return client.post(URL, data=data, content_type=content_type, **headers)


def page_token(shop, *, expires: float | None = None, key: str | None = None, domain: str | None = None) -> str:
    """What the WordPress plugin prints into a page it renders for this shop."""
    return page_token_sign(
        key=key or shop_storefront_token_key_get(shop=shop),
        domain=domain or shop.domain,
        expires=int(expires or time.time() + PAGE_TOKEN_LIFETIME_SECONDS),
    )


def batch(shop, *events, token: str | None = None):
    return {"shop": shop.domain, "page_token": token or page_token(shop), "events": list(events)}


def a_client() -> str:
    """An address no other test has counted (test databases reuse shop ids)."""
    return f"198.18.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250 + 1}"


IMPRESSION = {"type": "impression", "block": "related", "product_id": "P2", "anchor_id": "P1"}


def test_a_valid_batch_is_stored_without_anything_about_the_shopper(client, shop):
    click = {"type": "click", "block": "bought_together", "product_id": 1234}
    response = post(client, batch(shop, IMPRESSION, click))

    assert response.status_code == 202 and response.json() == {"stored": 2}
    assert response["Access-Control-Allow-Origin"] == "*"
    with shop_scope(shop):
        stored = list(ShopperEvent.objects.order_by("kind").values_list("kind", "block", "product_external_id"))
    assert stored == [("click", "bought_together", "1234"), ("impression", "related", "P2")]
    columns = {field.name for field in ShopperEvent._meta.get_fields()}
    assert columns == {"id", "shop", "kind", "block", "product_external_id", "anchor_external_id", "occurred_at"}


@pytest.mark.parametrize(
    "body,message",
    [
        ("not json", "body:"),
        ([], "body:"),
        ({"events": [IMPRESSION]}, "shop:"),
        ("SHOP", "events: a non-empty list"),
        ({"type": "purchase", "block": "related", "product_id": "P"}, "events[1].type"),
        ({"type": "click", "block": "footer", "product_id": "P"}, "events[1].block"),
        ({"type": "click", "block": "related", "product_id": ""}, "events[1].product_id"),
        ({"type": "click", "block": "related", "product_id": "P", "email": "a@b.c"}, "unknown field(s) email"),
    ],
)
def test_bad_batches_are_400_and_nothing_is_stored(client, shop, body, message):
    if body == "SHOP":
        body = {**batch(shop), "events": []}
    elif isinstance(body, dict) and "type" in body:
        body = batch(shop, IMPRESSION, body)
    response = post(client, body)
    assert response.status_code == 400
    assert message in response.json()["error"]
    with shop_scope(shop):
        assert ShopperEvent.objects.count() == 0


def test_too_many_or_too_large_is_refused(client, shop):
    assert post(client, batch(shop, *[IMPRESSION] * 51)).status_code == 400
    huge = batch(shop, {**IMPRESSION, "anchor_id": "x" * 20000})
    assert post(client, huge).status_code == 413
    with shop_scope(shop):
        assert ShopperEvent.objects.count() == 0


def test_unknown_shop_is_404(client, db):
    assert post(client, {"shop": "nobody.example", "events": [IMPRESSION]}).status_code == 404


def test_each_client_is_rate_limited_per_shop(client, shop, other_shop, settings):
    settings.EVENT_BATCHES_PER_MINUTE = 2
    address = a_client()
    statuses = [post(client, batch(shop, IMPRESSION), REMOTE_ADDR=address).status_code for _ in range(3)]
    assert statuses == [202, 202, 429]
    assert post(client, batch(other_shop, IMPRESSION), REMOTE_ADDR=address).status_code == 202
    assert post(client, batch(shop, IMPRESSION), REMOTE_ADDR=a_client()).status_code == 202
    with shop_scope(shop):
        assert ShopperEvent.objects.count() == 3


def test_rotating_the_user_agent_does_not_escape_the_rate_limit(client, shop, settings):
    settings.EVENT_BATCHES_PER_MINUTE = 2
    address = a_client()
    statuses = [
        post(
            client, batch(shop, IMPRESSION), REMOTE_ADDR=address, HTTP_USER_AGENT=f"browser-{uuid.uuid4()}"
        ).status_code
        for _ in range(4)
    ]
    assert statuses == [202, 202, 429, 429]
    with shop_scope(shop):
        assert ShopperEvent.objects.count() == 2


def test_a_forwarded_for_header_counts_only_behind_a_trusted_proxy(client, shop, settings):
    settings.EVENT_BATCHES_PER_MINUTE = 2
    address = a_client()
    # No trusted proxy: X-Forwarded-For is the client's own say and changes nothing.
    statuses = [
        post(client, batch(shop, IMPRESSION), REMOTE_ADDR=address, HTTP_X_FORWARDED_FOR=a_client()).status_code
        for _ in range(3)
    ]
    assert statuses == [202, 202, 429]

    # Behind a trusted proxy the client is the first untrusted hop from the right; what the
    # client put in front of it is still ignored.
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    shopper = a_client()
    behind = [
        post(
            client,
            batch(shop, IMPRESSION),
            REMOTE_ADDR="10.0.0.7",
            HTTP_X_FORWARDED_FOR=f"{a_client()}, {shopper}, 10.2.0.1",
        ).status_code
        for _ in range(3)
    ]
    assert behind == [202, 202, 429]
    another = post(client, batch(shop, IMPRESSION), REMOTE_ADDR="10.0.0.7", HTTP_X_FORWARDED_FOR=a_client())
    assert another.status_code == 202


def test_the_client_address_an_ipv6_client_counts_under_is_its_64():
    factory = RequestFactory()
    one = factory.post(URL, REMOTE_ADDR="2001:db8:1:2:aaaa::1")
    two = factory.post(URL, REMOTE_ADDR="2001:db8:1:2:bbbb::9")
    elsewhere = factory.post(URL, REMOTE_ADDR="2001:db8:1:3::1")
    assert client_address(one) == client_address(two) == "2001:db8:1:2::/64"
    assert client_address(elsewhere) != client_address(one)


def test_one_page_token_is_rate_limited_from_every_address(client, shop, settings):
    settings.EVENT_BATCHES_PER_MINUTE = 2
    token = page_token(shop)
    statuses = [
        post(client, batch(shop, IMPRESSION, token=token), REMOTE_ADDR=a_client()).status_code for _ in range(3)
    ]
    assert statuses == [202, 202, 429]


# --- who may post ---------------------------------------------------------------------------------


def test_a_forged_batch_for_a_shopify_store_is_refused_and_nothing_is_stored(client, db):
    shopify = make_shop(domain="victim.myshopify.com", platform="shopify")
    exposure_free = {"shop": shopify.domain, "events": [IMPRESSION, {**IMPRESSION, "type": "click"}]}
    # Not even a page token signed with the shop's own key opens this door: Shopify signs these.
    with_token = {**exposure_free, "page_token": page_token(shopify)}
    for body in (exposure_free, with_token):
        response = post(client, body, REMOTE_ADDR=a_client())
        assert response.status_code == 403
        assert "/apps/basketry/events" in response.json()["error"]
    with shop_scope(shopify):
        assert ShopperEvent.objects.count() == 0


@pytest.mark.parametrize(
    "case", ["missing", "expired", "tampered", "other shop", "other key", "customer token", "list"]
)
def test_a_store_rendering_its_own_pages_needs_its_page_token(client, db, case):
    woo = make_shop(domain="woo.example", platform="woocommerce")
    other = make_shop(domain="other-woo.example", platform="woocommerce")
    key = shop_storefront_token_key_get(shop=woo)
    valid = page_token(woo)
    expires, nonce, mac = valid.split(".")[1:]
    token = {
        "missing": None,
        "expired": page_token(woo, expires=time.time() - 3600),
        "tampered": f"v1.{int(expires) + 3600}.{nonce}.{mac}",
        "other shop": page_token(other),
        "other key": page_token(woo, key="ab" * 32),
        "customer token": customer_token_sign(key=key, domain=woo.domain, customer_id="7", expires=int(expires)),
        "list": [valid],
    }[case]
    body = {"shop": woo.domain, "events": [IMPRESSION]}
    if token is not None:
        body["page_token"] = token
    response = post(client, body, REMOTE_ADDR=a_client())
    assert response.status_code == 401 and response.json()["error"].startswith("page_token:")
    with shop_scope(woo):
        assert ShopperEvent.objects.count() == 0
    accepted = post(client, {**body, "page_token": valid}, REMOTE_ADDR=a_client())
    assert accepted.status_code == 202 and accepted.json() == {"stored": 1}


def test_page_tokens_refuse_lifetimes_beyond_what_the_plugin_signs():
    now = time.time()
    token = page_token_sign(key="k" * 64, domain="woo.example", expires=int(now + 10 * 3600))
    with pytest.raises(Exception, match="lives too long"):
        page_token_verify(key="k" * 64, domain="woo.example", token=token, now=now)
    fresh = page_token_sign(key="k" * 64, domain="woo.example", expires=int(now + 3600), nonce="abcdef0123")
    assert page_token_verify(key="k" * 64, domain="woo.example", token=fresh, now=now) == "abcdef0123"


def test_hostile_shapes_are_400_not_500(client, shop):
    deep = f'{{"shop": "{shop.domain}", "events": ' + "[" * 5000 + "1" + "]" * 5000 + "}"
    assert post(client, deep).status_code == 400
    for block in (["related"], {"a": 1}):
        response = post(client, batch(shop, {**IMPRESSION, "block": block}))
        assert response.status_code == 400 and "block" in response.json()["error"]
    with shop_scope(shop):
        assert ShopperEvent.objects.count() == 0


def test_roll_up_counts_finished_days_and_purges_old_raw_events(shop, other_shop, settings):
    settings.EVENT_RETENTION_DAYS = 30
    now = timezone.now()
    yesterday = now - dt.timedelta(days=1)
    for _ in range(3):
        make_shopper_event(shop, kind="click", product_external_id="P9", occurred_at=yesterday)
    make_shopper_event(shop, kind="click", product_external_id="P9", occurred_at=now)  # today: not yet
    make_shopper_event(shop, kind="impression", product_external_id="P7", occurred_at=now - dt.timedelta(days=40))
    make_shopper_event(other_shop, kind="click", product_external_id="P9", occurred_at=yesterday)

    with shop_scope(shop):
        events_roll_up(shop=shop)
        events_roll_up(shop=shop)  # twice: the same counts
        rollups = {(row.day, row.kind, row.product_external_id): row.count for row in EventDailyRollup.objects.all()}
        assert rollups[(yesterday.date(), "click", "P9")] == 3
        assert rollups[((now - dt.timedelta(days=40)).date(), "impression", "P7")] == 1
        # Yesterday's three and today's one stay (within retention); the 40-day-old one is gone.
        assert ShopperEvent.objects.count() == 4
    assert EventDailyRollup.all_shops.filter(shop=other_shop).count() == 0


def test_the_purge_honours_a_shops_shorter_retention_and_leaves_other_shops_alone(shop, other_shop, settings):
    from recommendations.services.settings import retention_settings_update

    settings.EVENT_RETENTION_DAYS = 30
    retention_settings_update(shop=shop, event_days=3)
    now = timezone.now()
    make_shopper_event(shop, kind="click", product_external_id="P1", occurred_at=now - dt.timedelta(days=1))
    make_shopper_event(shop, kind="click", product_external_id="P5", occurred_at=now - dt.timedelta(days=5))
    make_shopper_event(other_shop, kind="click", product_external_id="P5", occurred_at=now - dt.timedelta(days=5))

    with shop_scope(shop):
        events_roll_up(shop=shop)
        assert list(ShopperEvent.objects.values_list("product_external_id", flat=True)) == ["P1"]
        # Counted before it went: the daily figures keep the deleted day.
        assert EventDailyRollup.objects.get(product_external_id="P5").count == 1
    with shop_scope(other_shop):
        events_roll_up(shop=other_shop)  # its own, default retention of 30 days keeps it
        assert ShopperEvent.objects.count() == 1
    assert ShopperEvent.all_shops.filter(shop=other_shop).count() == 1


def test_the_purge_keeps_whole_days_so_a_recount_never_shrinks_a_day(shop, settings):
    """A day the purge has started on would be recounted from what is left of it: the purge
    removes whole days only."""
    from recommendations.services.settings import retention_settings_update

    settings.EVENT_RETENTION_DAYS = 30
    retention_settings_update(shop=shop, event_days=2)
    oldest_kept = timezone.localdate() - dt.timedelta(days=2)
    for moment in (dt.time(0, 1), dt.time(23, 59)):
        occurred = timezone.make_aware(dt.datetime.combine(oldest_kept, moment))
        make_shopper_event(shop, kind="impression", product_external_id="P3", occurred_at=occurred)
    too_old = timezone.make_aware(dt.datetime.combine(oldest_kept - dt.timedelta(days=1), dt.time(23, 59)))
    make_shopper_event(shop, kind="impression", product_external_id="P4", occurred_at=too_old)

    with shop_scope(shop):
        events_roll_up(shop=shop)
        events_roll_up(shop=shop)  # the next night's recount
        assert EventDailyRollup.objects.get(day=oldest_kept, product_external_id="P3").count == 2
        assert EventDailyRollup.objects.get(product_external_id="P4").count == 1
        assert sorted(ShopperEvent.objects.values_list("product_external_id", flat=True)) == ["P3", "P3"]


def test_the_operator_limit_caps_a_longer_shop_retention(shop, settings):
    from recommendations.services.settings import retention_settings_update

    settings.EVENT_RETENTION_DAYS = 30
    retention_settings_update(shop=shop, event_days=30)
    settings.EVENT_RETENTION_DAYS = 10  # shortened by the operator afterwards
    make_shopper_event(shop, kind="click", product_external_id="P8", occurred_at=timezone.now() - dt.timedelta(days=20))
    with shop_scope(shop):
        events_roll_up(shop=shop)
        assert ShopperEvent.objects.count() == 0
