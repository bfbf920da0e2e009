"""The storefront, the probes and the webhook ingress while Redis is down, hung, and back.

Each test runs its own redis-server on a free port (tests/private_redis.py) and stops or pauses it (SIGSTOP);
the shared Redis of the suite is never touched. Commands sent to Redis are counted at the client,
so "the breaker skips the cache" is checked by counting rather than by timing.
"""

from __future__ import annotations

import io
import time
import uuid

import pytest
import redis
from django.core.management import call_command
from django.db import connection

from integrations.models import WebhookDelivery
from recommendations.storefront import cache as caches
from recommendations.storefront.service import storefront_memory_clear
from shops.cache_guard import breaker_for, breakers_reset
from shops.demo.generator import demo_shop_generate
from shops.models import Product
from shops.services.demo import demo_shop_load
from shops.tenancy import shop_scope
from tests.factories import make_shop
from tests.integrations.shopify.conftest import SECRET, signed_webhook
from tests.private_redis import PrivateRedis

URL = "/api/storefront/v1/recommendations"
# The cool-down of most tests outlasts them, so that one failure is all Redis ever sees.
LONG_COOLDOWN = 60.0
SHORT_COOLDOWN = 0.5

pytestmark = pytest.mark.services("postgres", "redis")


def _cache_settings(url: str, cooldown: float) -> dict:
    from django.conf import settings

    return {
        "default": {
            "BACKEND": "shops.cache_guard.GuardedRedisCache",
            "LOCATION": url,
            "KEY_PREFIX": "basketry",
            "OPTIONS": {
                "socket_connect_timeout": settings.CACHE_CONNECT_TIMEOUT,
                "socket_timeout": settings.CACHE_SOCKET_TIMEOUT,
                "breaker_cooldown": cooldown,
            },
        }
    }


@pytest.fixture
def private_redis():
    server = PrivateRedis()
    server.start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def cooldown() -> float:
    return LONG_COOLDOWN


@pytest.fixture
def private_cache(settings, private_redis, cooldown):
    """The Django cache on the private Redis, every breaker closed, no in-process copies."""
    settings.CACHES = _cache_settings(private_redis.url, cooldown)
    breakers_reset()
    storefront_memory_clear()
    yield private_redis
    breakers_reset()
    storefront_memory_clear()


@pytest.fixture
def commands(monkeypatch):
    """Every command the Redis client sends (or tries to), in order."""
    sent: list[str] = []
    original = redis.Redis.execute_command

    def counting(self, *args, **options):
        sent.append(str(args[0]))
        return original(self, *args, **options)

    monkeypatch.setattr(redis.Redis, "execute_command", counting)
    return sent


@pytest.fixture
def trained(private_cache, shop):
    demo = demo_shop_generate(seed=9, product_count=50, order_count=900)
    with shop_scope(shop):
        demo_shop_load(shop=shop, demo=demo)
    call_command("train", shop.domain, stdout=io.StringIO())
    with shop_scope(shop):
        product_ids = list(Product.objects.order_by("pk").values_list("external_id", flat=True))
    return shop, product_ids


def _breaker(server: PrivateRedis):
    return breaker_for(server.url)


def _related(client, shop, product_id: str):
    return client.get(URL, {"shop": shop.domain, "type": "related", "product_id": product_id})


def _state_keys(server: PrivateRedis, domain: str) -> list[str]:
    return server.keys(f"*storefront:state:{domain}")


@pytest.mark.django_db
def test_redis_down_serves_from_postgresql_asks_redis_once_and_stays_in_rotation(
    client, private_cache, trained, commands
):
    shop, product_ids = trained
    private_cache.stop()
    commands.clear()

    answers = [_related(client, shop, product_id) for product_id in product_ids]

    assert len(answers) == 50
    assert all(answer.status_code == 200 for answer in answers)
    assert sum(1 for answer in answers if answer.json()["items"]) >= 45
    # The first request learned that Redis is down; the other 49 did not ask it again.
    assert len(commands) == 1, commands
    assert _breaker(private_cache).is_open

    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"] == {"database": "ok", "cache": "down"}
    serving = client.get("/servez")
    assert serving.status_code == 200
    assert serving.json() == {"status": "degraded", "degraded": True, "checks": {"database": "ok", "cache": "down"}}
    assert client.get("/livez").status_code == 200
    assert len(commands) == 1, "the probes must not wait on a Redis the breaker knows is down"


@pytest.mark.django_db
def test_the_database_down_takes_the_instance_out_of_rotation(client, private_cache, monkeypatch):
    def broken_cursor(*args, **kwargs):
        raise connection.Database.OperationalError("connection refused")

    monkeypatch.setattr(connection, "cursor", broken_cursor)
    serving = client.get("/servez")
    assert serving.status_code == 503
    assert serving.json()["checks"] == {"database": "down", "cache": "ok"}


@pytest.mark.django_db
def test_hung_redis_costs_one_socket_timeout_then_requests_skip_it(client, private_cache, trained, commands):
    shop, product_ids = trained
    assert _related(client, shop, product_ids[0]).status_code == 200  # the state is now in Redis
    storefront_memory_clear()
    private_cache.pause()
    try:
        commands.clear()
        started = time.monotonic()
        answers = [_related(client, shop, product_id) for product_id in product_ids[:20]]
        elapsed = time.monotonic() - started
        serving = client.get("/servez")
    finally:
        private_cache.resume()

    assert [answer.status_code for answer in answers] == [200] * 20
    assert all(answer.json()["items"] for answer in answers[:5])
    assert _breaker(private_cache).is_open
    assert len(commands) == 1, commands
    # One socket timeout (0.25 s) and twenty renders from PostgreSQL; a second per call without
    # the breaker would be 40 s. A generous bound, the count above is the real check.
    assert elapsed < 10
    assert serving.status_code == 200 and serving.json()["degraded"] is True


def _product_payload(product_id: int) -> dict:
    return {
        "id": product_id,
        "title": f"Apron {product_id}",
        "handle": f"apron-{product_id}",
        "status": "active",
        "vendor": "Acme",
        "product_type": "Kitchen",
        "tags": "linen",
        "body_html": "",
        "created_at": "2026-01-05T10:00:00Z",
        "updated_at": "2026-01-06T10:00:00Z",
        "variants": [{"id": 1, "price": "24.00", "inventory_quantity": 5, "inventory_policy": "deny"}],
    }


@pytest.mark.parametrize("cooldown", [2.0])
@pytest.mark.django_db(transaction=True)
def test_webhooks_under_hung_redis_finish_fast_and_their_invalidation_lands(client, settings, private_cache, cooldown):
    settings.SHOPIFY_API_KEY, settings.SHOPIFY_API_SECRET, settings.SHOPIFY_API_SECRET_OLD = "key", SECRET, ""
    shop = make_shop(domain="hung.myshopify.com", platform="shopify")
    assert client.get(URL, {"shop": shop.domain, "type": "related", "product_id": "1"}).status_code == 200
    assert _state_keys(private_cache, shop.domain)
    private_cache.pause()
    try:
        started = time.monotonic()
        answers = [
            signed_webhook(client, topic="products/update", domain=shop.domain, payload=_product_payload(1000 + n))
            for n in range(10)
        ]
        elapsed = time.monotonic() - started
    finally:
        private_cache.resume()

    assert [answer.status_code for answer in answers] == [200] * 10
    with shop_scope(shop):
        assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"done"}
        assert Product.objects.count() == 10
    # Each delivery is processed here (eager tasks) and announces its product to the storefront:
    # one socket timeout opens the breaker, the others are kept at once (10 s without it).
    assert elapsed < 4, elapsed
    with shop_scope(shop):
        pks = set(Product.objects.values_list("pk", flat=True))
    feed = private_cache.client()
    key = next(iter(private_cache.keys(f"*shop:{shop.pk}:facts:feed")), None)
    deadline = time.monotonic() + cooldown + 3
    while time.monotonic() < deadline:
        key = next(iter(private_cache.keys(f"*shop:{shop.pk}:facts:feed")), None)
        if key and {int(member) for member in feed.zrange(key, 0, -1) if member != b"~seq"} >= pks:
            break
        time.sleep(0.1)
    assert key, "no product change reached the storefront's feed"
    announced = {int(member) for member in feed.zrange(key, 0, -1) if member != b"~seq"}
    assert announced >= pks, "a product change made during the outage never reached Redis"


@pytest.mark.parametrize("cooldown", [SHORT_COOLDOWN])
@pytest.mark.django_db
def test_an_invalidation_during_the_cool_down_is_delivered_when_redis_answers(
    client, private_cache, trained, commands, cooldown
):
    shop, product_ids = trained
    assert _related(client, shop, product_ids[0]).status_code == 200
    assert _state_keys(private_cache, shop.domain)
    storefront_memory_clear()
    # A short blip: Redis misses one answer and is healthy again, the breaker stays open a while.
    private_cache.pause()
    try:
        assert _related(client, shop, product_ids[1]).status_code == 200
    finally:
        private_cache.resume()
    assert _breaker(private_cache).is_open
    commands.clear()

    caches.storefront_invalidate(domain=shop.domain)

    assert commands == [] and _state_keys(private_cache, shop.domain), "deferred, not sent to an open breaker"
    deadline = time.monotonic() + cooldown + 3
    while _state_keys(private_cache, shop.domain) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _state_keys(private_cache, shop.domain), "the deferred invalidation never reached Redis"
    assert not _breaker(private_cache).is_open


@pytest.mark.parametrize("cooldown", [SHORT_COOLDOWN])
@pytest.mark.django_db
def test_when_redis_is_back_the_breaker_closes_and_the_cache_serves_again(
    client, private_cache, trained, cooldown, django_assert_num_queries, monkeypatch
):
    # The shared tier itself: no whole-shop loads into this process (as for a shop too large).
    monkeypatch.setattr(caches, "load_once", lambda key, work: None)
    shop, product_ids = trained
    private_cache.stop()
    assert _related(client, shop, product_ids[0]).status_code == 200
    assert _breaker(private_cache).is_open
    private_cache.start()
    time.sleep(cooldown + 0.1)
    # What this process remembered from the outage would be served before the cache is asked.
    storefront_memory_clear()

    first = _related(client, shop, product_ids[2])

    assert first.status_code == 200
    assert not _breaker(private_cache).is_open
    assert private_cache.keys("*storefront*"), "nothing was written to Redis once it was back"
    assert client.get("/readyz").status_code == 200
    assert client.get("/servez").json()["degraded"] is False
    storefront_memory_clear()
    with django_assert_num_queries(0):
        again = _related(client, shop, product_ids[2])
    assert again.content == first.content


@pytest.mark.django_db
def test_unknown_product_ids_cost_the_cache_only_briefly_and_never_push_out_real_lists(
    client, private_cache, trained, django_assert_num_queries
):
    shop, product_ids = trained
    assert _related(client, shop, product_ids[0]).status_code == 200
    before = set(private_cache.keys())
    unknown = [f"junk-{uuid.uuid4().hex[:12]}" for _ in range(1000)]

    answers = [_related(client, shop, product_id) for product_id in unknown]
    carts = [
        client.get(
            URL, {"shop": shop.domain, "type": "cart", "product_id": product_id, "cart": f"{product_ids[1]},x-{n}"}
        )
        for n, product_id in enumerate(unknown[:100])
    ]

    assert {answer.status_code for answer in answers + carts} == {200}
    assert all(answer.json()["fallback"] is True and answer.json()["items"] for answer in answers)
    added = sorted(set(private_cache.keys()) - before)
    redis_client = private_cache.client()
    lasting = [key for key in added if "junk-" not in key and ":x-" not in key]
    # What junk adds expires within a minute; what lasts is the real products' lists and facts.
    assert all(0 < redis_client.ttl(key) <= caches.UNKNOWN_LIST_SECONDS for key in added if key not in lasting)
    assert all(":list:" not in key or key.endswith(f":{product_ids[1]}") for key in lasting), lasting
    # The real list read first is still in this process's memory: no query, no Redis round trip.
    with django_assert_num_queries(0):
        assert _related(client, shop, product_ids[0]).headers["Server-Timing"].startswith('list;desc="local"')
    assert _related(client, shop, "junk-again").json() == answers[0].json()


@pytest.mark.django_db
def test_a_lock_cannot_be_taken_without_redis_and_the_caller_hears_it(private_cache, shop):
    from integrations.services import sync_execute

    private_cache.stop()
    # Both the call that meets the outage and the ones the open breaker refuses raise: a sync
    # must never run as if it held the shop's lock.
    for _ in range(2):
        with pytest.raises(redis.exceptions.ConnectionError):
            sync_execute(shop=shop, kind="full")
    assert _breaker(private_cache).is_open


@pytest.mark.django_db
def test_what_cannot_work_without_redis_answers_503_with_retry_after(client, private_cache, settings):
    """The WooCommerce connect flow keeps its one-time reference in the cache: without Redis it
    refuses with a 503 to try again, not a 500, and hands out no authorize URL."""
    settings.WOOCOMMERCE_ALLOW_INSECURE_HTTP = True
    private_cache.stop()
    body = {"store_url": "http://woo.example", "return_url": "http://woo.example/wp-admin/", "plugin_key": "a" * 64}

    response = client.post("/woocommerce/connect/start", body, content_type="application/json")

    assert response.status_code == 503 and response["Retry-After"] == "30"
    assert "try again" in response.json()["error"]
