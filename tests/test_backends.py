"""The suite says which backends it ran on; with REQUIRE_SERVICES=1 they must be the real ones."""

from __future__ import annotations

import uuid

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection


@pytest.mark.services("postgres")
@pytest.mark.django_db
def test_database_is_postgresql():
    assert connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version_num")
        assert int(cursor.fetchone()[0]) >= 130000


@pytest.mark.services("redis")
def test_cache_is_redis_and_answers():
    from django.core.cache import caches
    from django.core.cache.backends.redis import RedisCache

    # Django's Redis cache, behind the circuit breaker of shops/cache_guard.py.
    assert settings.CACHES["default"]["BACKEND"] == "shops.cache_guard.GuardedRedisCache"
    assert isinstance(caches["default"], RedisCache)
    key = f"test:{uuid.uuid4().hex}"
    cache.set(key, {"a": 1}, timeout=10)
    assert cache.get(key) == {"a": 1}
    cache.delete(key)


@pytest.mark.services("redis")
def test_celery_uses_the_redis_broker_and_the_five_queues():
    from config.celery import app

    assert app.conf.broker_url == settings.REDIS_URL
    assert settings.CELERY_TASK_ALWAYS_EAGER is False
    queues = sorted(queue.name for queue in app.conf.task_queues)
    assert queues == ["default", "sync", "training", "training_large", "webhooks"]


def test_embedded_mode_runs_tasks_eagerly_without_redis():
    if settings.REDIS_URL:
        pytest.skip("services mode")
    assert settings.CELERY_TASK_ALWAYS_EAGER is True
    assert settings.CELERY_BROKER_URL == "memory://"
    assert settings.CACHES["default"]["BACKEND"].endswith("LocMemCache")


def test_every_task_is_routed_to_its_queue():
    from config.celery import app

    app.loader.import_default_modules()
    expected = {
        "recommendations.data_profile_refresh": "training",
        "recommendations.training_run_execute": "training",
        "recommendations.training_nightly": "default",
        "recommendations.events_roll_up": "default",
        "recommendations.events_roll_up_all": "default",
        "integrations.webhook_process": "webhooks",
        "integrations.sync_run": "sync",
        "integrations.sync_poll": "sync",
        "integrations.sync_all": "default",
        "integrations.shopify_billing_reconcile": "sync",
        "integrations.shopify_billing_reconcile_all": "default",
        "integrations.woocommerce_connected": "sync",
        "integrations.woocommerce_webhooks_check_all": "default",
        "integrations.shops_purge_due": "default",
        "integrations.webhook_deliveries_purge": "default",
        "integrations.webhook_deliveries_sweep": "default",
        "recommendations.training_runs_reap": "default",
    }
    for task, queue in expected.items():
        assert task in app.tasks
        assert app.amqp.router.route({}, task)["queue"].name == queue
    # Every task of the project states where it runs: nothing falls to the default by omission.
    project_tasks = {name for name in app.tasks if name.startswith(("recommendations.", "shops.", "integrations."))}
    assert project_tasks == set(expected)
