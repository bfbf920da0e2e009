"""POST /api/storefront/v1/events and the daily rollup: validation, limits, privacy, retention."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest
from django.utils import timezone

from recommendations.models import EventDailyRollup, ShopperEvent
from recommendations.services.events import events_roll_up
from shops.tenancy import shop_scope
from tests.factories import make_shopper_event

URL = "/api/storefront/v1/events"
pytestmark = pytest.mark.django_db


def post(client, body, content_type="text/plain"):
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return client.post(URL, data=data, content_type=content_type)


def batch(shop, *events):
    return {"shop": shop.domain, "events": list(events)}


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
        body = {"shop": shop.domain, "events": []}
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


def test_each_client_is_rate_limited_per_shop(client, shop, settings):
    settings.EVENT_BATCHES_PER_MINUTE = 2
    browser = f"test-browser-{uuid.uuid4()}"  # a client no other test has counted
    statuses = [
        client.post(
            URL, json.dumps(batch(shop, IMPRESSION)), content_type="text/plain", HTTP_USER_AGENT=browser
        ).status_code
        for _ in range(3)
    ]
    assert statuses == [202, 202, 429]
    with shop_scope(shop):
        assert ShopperEvent.objects.count() == 2


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
