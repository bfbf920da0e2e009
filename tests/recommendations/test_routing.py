"""Large shops' trainings go to their own queue, so they never hold the workers small shops use."""

from __future__ import annotations

import pytest
from django.test import override_settings

from recommendations.routing import training_queue_for, training_time_limits
from shops.tenancy import shop_scope
from tests.factories import make_data_profile


def _profile(shop, **sizes):
    with shop_scope(shop):
        return make_data_profile(shop, **sizes)


def _routed_queue(task: str, *args, **kwargs) -> str:
    from config.celery import app

    app.loader.import_default_modules()
    return app.amqp.router.route({}, task, args=args, kwargs=kwargs)["queue"].name


@pytest.mark.django_db
def test_a_shop_without_a_profile_trains_on_the_small_queue(shop):
    assert training_queue_for(shop_id=shop.pk) == "training"


@pytest.mark.django_db
@override_settings(TRAINING_LARGE_SHOP_PRODUCTS=20_000, TRAINING_LARGE_SHOP_ORDER_LINES=1_000_000)
@pytest.mark.parametrize(
    ("products", "order_lines", "queue"),
    [
        (500, 3_000, "training"),
        (19_999, 999_999, "training"),
        (20_000, 10, "training_large"),
        (4_000, 1_000_000, "training_large"),
    ],
)
def test_either_threshold_makes_a_shop_large(shop, products, order_lines, queue):
    _profile(shop, products=products, order_lines=order_lines)

    assert training_queue_for(shop_id=shop.pk) == queue


@pytest.mark.django_db
@override_settings(TRAINING_LARGE_SHOP_PRODUCTS=100, TRAINING_LARGE_SHOP_ORDER_LINES=10**9)
def test_the_threshold_is_a_setting(shop):
    _profile(shop, products=150)

    assert training_queue_for(shop_id=shop.pk) == "training_large"


@pytest.mark.django_db
def test_the_celery_router_sends_each_shops_training_to_its_queue(shop, other_shop):
    _profile(shop, products=50_000, order_lines=200_000)
    _profile(other_shop, products=300, order_lines=2_000)

    assert _routed_queue("recommendations.training_run_execute", shop.pk, 1) == "training_large"
    assert _routed_queue("recommendations.training_run_execute", shop_id=shop.pk, run_id=1) == "training_large"
    # Another shop's size never decides this shop's queue.
    assert _routed_queue("recommendations.training_run_execute", other_shop.pk, 2) == "training"


@override_settings(TRAINING_LARGE_TIME_LIMIT_MINUTES=45)
def test_large_shops_trainings_get_the_large_queues_time_limits():
    assert training_time_limits("training_large") == {"soft_time_limit": 45 * 60, "time_limit": 50 * 60}
    assert training_time_limits("training") == {}


@pytest.mark.django_db
def test_a_call_that_names_its_queue_keeps_it_without_a_lookup(shop, django_assert_num_queries):
    from config.celery import app

    _profile(shop, products=50_000)
    app.loader.import_default_modules()
    with django_assert_num_queries(0):
        route = app.amqp.router.route(
            {"queue": "training_large"}, "recommendations.training_run_execute", args=(shop.pk, 1)
        )
    assert route["queue"].name == "training_large"


@pytest.mark.django_db
def test_other_tasks_keep_their_queues_whatever_the_shops_size(shop):
    _profile(shop, products=50_000)

    assert _routed_queue("recommendations.data_profile_refresh", shop.pk) == "training"
    assert _routed_queue("integrations.webhook_process", shop.pk, 1) == "webhooks"
    assert _routed_queue("recommendations.training_run_execute") == "training"


def _messages_for(client, queue: str, shop_id: int) -> list[bytes]:
    import json

    return [
        raw
        for raw in client.lrange(queue, 0, -1)
        if json.loads(raw)["headers"]["task"] == "recommendations.training_run_execute"
        and json.loads(raw)["headers"]["argsrepr"].startswith(f"({shop_id},")
    ]


@pytest.mark.services("postgres", "redis")
@pytest.mark.django_db(transaction=True)
def test_a_queued_training_reaches_the_large_queue_through_the_broker(shop, other_shop, real_celery):
    import json

    import redis
    from django.conf import settings

    from recommendations.models import TrainingRun
    from recommendations.services.training import training_run_start

    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    _profile(shop, products=50_000, order_lines=300_000)
    _profile(other_shop, products=200, order_lines=900)
    try:
        for each in (shop, other_shop):
            with shop_scope(each):
                training_run_start(shop=each, trigger=TrainingRun.Trigger.COMMAND)

        (large,) = _messages_for(client, "training_large", shop.pk)
        assert _messages_for(client, "training", shop.pk) == []
        (small,) = _messages_for(client, "training", other_shop.pk)
        assert _messages_for(client, "training_large", other_shop.pk) == []
        # The large shop's run carries the large queue's time limits ([hard, soft]); the small
        # one the task's own 25 / 20 minutes.
        soft = settings.TRAINING_LARGE_TIME_LIMIT_MINUTES * 60
        assert json.loads(large)["headers"]["timelimit"] == [soft + 300, soft]
        assert json.loads(small)["headers"]["timelimit"] == [25 * 60, 20 * 60]
    finally:
        for queue in ("training", "training_large"):
            for each in (shop, other_shop):
                for raw in _messages_for(client, queue, each.pk):
                    client.lrem(queue, 0, raw)
