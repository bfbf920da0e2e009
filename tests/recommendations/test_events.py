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
