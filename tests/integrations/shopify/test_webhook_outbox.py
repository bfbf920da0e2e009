"""Nothing a platform delivered is lost: a broker that is down or hung, a task that fails, a
worker that never finishes — the delivery stays undone, the sweeper sends it again, a platform
retry is answered by processing it, and what keeps failing becomes a visible dead letter."""

from __future__ import annotations

import base64
import datetime as dt
import json
import time

import pytest
from django.core.management import call_command
from django.db import OperationalError
from django.utils import timezone

from integrations import deliveries
from integrations.models import PrivacyRequest, WebhookDelivery
from integrations.shopify import handlers
from shops.tenancy import shop_scope
from tests.factories import make_shop, make_webhook_delivery
from tests.integrations.shopify.conftest import signed_webhook
from tests.private_redis import PrivateRedis

DOMAIN = "outbox.myshopify.com"
REAL_APPLY = handlers.delivery_apply
REDACT = {"shop_id": 3003, "shop_domain": DOMAIN, "customer": {"id": 77}, "orders_to_redact": []}


@pytest.fixture
def store(shopify_settings):
    shop = make_shop(domain=DOMAIN, platform="shopify")
    shop.platform_id = "3003"
    shop.save(update_fields=["platform_id"])
    return shop


def _point_celery_at(app, url: str) -> None:
    app.conf.broker_url = url
    app.conf.broker_write_url = url
    # Drop the connection and producer pools made for the previous URL.
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture
def private_broker():
    """Celery publishing for real, to a redis-server of this test's own."""
    from config.celery import app

    server = PrivateRedis()
    server.start()
    saved = (app.conf.broker_url, app.conf.broker_write_url, app.conf.task_always_eager)
    app.conf.task_always_eager = False
    _point_celery_at(app, server.url)
    try:
        yield server
    finally:
        server.close()
        app.conf.task_always_eager = saved[2]
        _point_celery_at(app, saved[0])
        app.conf.broker_write_url = saved[1]


def queued_messages(server: PrivateRedis) -> list[tuple[str, list]]:
    """(task name, args) of each message waiting in the webhooks queue, as a worker reads them."""
    found = []
    for raw in server.client().lrange("webhooks", 0, -1):
        message = json.loads(raw)
        args, _, _ = json.loads(base64.b64decode(message["body"]))
        found.append((message["headers"]["task"], args))
    return found


def redact(client, *, webhook_id="redact-1"):
    return signed_webhook(client, topic="customers/redact", domain=DOMAIN, payload=REDACT, webhook_id=webhook_id)


def delivery_of(shop) -> WebhookDelivery:
    with shop_scope(shop):
        return WebhookDelivery.objects.get()


def later(minutes: int) -> dt.datetime:
    return timezone.now() + dt.timedelta(minutes=minutes)


def run_message(server: PrivateRedis) -> None:
    """Do what a worker does with the one waiting message."""
    from integrations.tasks import webhook_process

    [(name, args)] = queued_messages(server)
    assert name == "integrations.webhook_process"
    server.client().delete("webhooks")
    webhook_process(*args)


@pytest.mark.services("postgres")
@pytest.mark.django_db(transaction=True)
def test_a_delivery_received_while_the_broker_is_down_is_done_by_the_sweeper(client, store, private_broker):
    private_broker.stop()
    response = redact(client)

    assert response.status_code == 200
    delivery = delivery_of(store)
    assert (delivery.status, delivery.attempts) == ("queued", 0)
    with shop_scope(store):
        assert not PrivacyRequest.objects.exists()

    # Before its time the sweeper leaves it alone (the normal path may still be on its way).
    assert deliveries.webhook_deliveries_sweep() == {"sent": 0, "dead": 0}
    private_broker.start()
    assert deliveries.webhook_deliveries_sweep(now=later(5)) == {"sent": 1, "dead": 0}
    run_message(private_broker)

    delivery = delivery_of(store)
    assert (delivery.status, delivery.attempts) == ("done", 1)
    with shop_scope(store):
        assert PrivacyRequest.objects.get().kind == PrivacyRequest.Kind.CUSTOMER_REDACT


@pytest.mark.services("postgres")
@pytest.mark.django_db(transaction=True)
def test_a_hung_broker_does_not_hold_the_ingress(client, store, private_broker):
    with private_broker.hung():
        started = time.monotonic()
        response = redact(client)
        elapsed = time.monotonic() - started

    assert response.status_code == 200
    # Bounded by the broker's socket timeouts (a few seconds), not by the broker coming back.
    assert elapsed < 15
    assert delivery_of(store).status == "queued"


@pytest.mark.services("postgres")
@pytest.mark.django_db(transaction=True)
def test_a_platform_retry_of_an_undone_delivery_sends_it_again(client, store, private_broker):
    private_broker.stop()
    assert redact(client).json() == {"ok": "queued"}
    private_broker.start()

    retry = redact(client)

    assert retry.status_code == 200 and retry.json() == {"ok": "not done yet: sent again"}
    run_message(private_broker)
    assert delivery_of(store).status == "done"
    # Once done, a further retry is a duplicate and sends nothing.
    assert redact(client).json() == {"ok": "duplicate delivery"}
    assert queued_messages(private_broker) == []


@pytest.mark.django_db
def test_a_task_that_fails_once_is_retried_until_done(client, store, monkeypatch, django_capture_on_commit_callbacks):
    calls = []

    def flaky(**kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("could not serialize access due to concurrent update")
        return REAL_APPLY(**kwargs)

    monkeypatch.setattr(handlers, "delivery_apply", flaky)
    with django_capture_on_commit_callbacks(execute=True):
        assert redact(client).status_code == 200

    delivery = delivery_of(store)
    assert (delivery.status, delivery.attempts) == ("queued", 1)
    assert "OperationalError" in delivery.detail and delivery.next_attempt_at > timezone.now()
    with shop_scope(store):
        assert not PrivacyRequest.objects.exists()

    assert deliveries.webhook_deliveries_sweep(now=later(5)) == {"sent": 1, "dead": 0}

    delivery = delivery_of(store)
    assert (delivery.status, delivery.attempts) == ("done", 2)
    with shop_scope(store):
        assert PrivacyRequest.objects.count() == 1


@pytest.mark.django_db
def test_a_delivery_that_keeps_failing_becomes_a_dead_letter_the_operator_can_retry(
    client, store, settings, monkeypatch, django_capture_on_commit_callbacks, capsys
):
    settings.WEBHOOK_MAX_ATTEMPTS = 2

    def broken(**kwargs):
        raise OperationalError("database is on fire")

    monkeypatch.setattr(handlers, "delivery_apply", broken)
    with django_capture_on_commit_callbacks(execute=True):
        redact(client)
    deliveries.webhook_deliveries_sweep(now=later(5))

    delivery = delivery_of(store)
    assert (delivery.status, delivery.attempts) == ("dead", 2)
    assert "database is on fire" in delivery.detail
    # The sweeper leaves dead letters alone, and the purge keeps them whatever their age.
    assert deliveries.webhook_deliveries_sweep(now=later(600)) == {"sent": 0, "dead": 0}
    WebhookDelivery.all_shops.update(received_at=timezone.now() - dt.timedelta(days=365))
    assert deliveries.webhook_deliveries_purge(older_than=timezone.now()) == 0

    call_command("webhook_deliveries")
    listing = capsys.readouterr().out
    assert "dead" in listing and DOMAIN in listing and "customers/redact" in listing

    monkeypatch.setattr(handlers, "delivery_apply", REAL_APPLY)
    call_command("webhook_deliveries", "--retry-dead")
    assert delivery_of(store).status == "queued"
    deliveries.webhook_deliveries_sweep(now=later(1))
    assert delivery_of(store).status == "done"


@pytest.mark.django_db
def test_a_platform_retry_of_a_dead_letter_processes_it(client, store, django_capture_on_commit_callbacks):
    with shop_scope(store):
        make_webhook_delivery(
            store,
            delivery_id="redact-1",
            topic="customers/redact",
            status="dead",
            attempts=8,
            work={"customer_ref": store.customer_ref("77"), "orders_to_redact": []},
        )

    with django_capture_on_commit_callbacks(execute=True):
        retry = redact(client, webhook_id="redact-1")

    assert retry.json() == {"ok": "not done yet: sent again"}
    delivery = delivery_of(store)
    assert (delivery.status, delivery.attempts) == ("done", 1)


@pytest.mark.django_db
def test_a_delivery_whose_worker_vanished_is_sent_again_and_then_given_up(store, settings):
    settings.WEBHOOK_MAX_ATTEMPTS = 3
    with shop_scope(store):
        # Claimed three times by workers that never finished (killed, or the message lost).
        stuck = make_webhook_delivery(store, attempts=3, next_attempt_at=timezone.now() - dt.timedelta(minutes=1))
        fresh = make_webhook_delivery(store, next_attempt_at=timezone.now() + dt.timedelta(minutes=2))

    assert deliveries.webhook_deliveries_sweep() == {"sent": 0, "dead": 1}
    with shop_scope(store):
        stuck.refresh_from_db()
        fresh.refresh_from_db()
    assert stuck.status == "dead" and "3 unfinished attempts" in stuck.detail
    assert fresh.status == "queued"


def test_retry_delays_grow_and_are_bounded():
    delays = [deliveries.retry_delay(n).total_seconds() for n in range(1, 10)]
    assert delays[:4] == [60, 120, 240, 480]
    assert delays == sorted(delays) and max(delays) == 3600
