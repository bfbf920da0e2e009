"""A real Celery round trip: a worker process, the Redis broker, the training queue, PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid

import pytest
from django.conf import settings
from django.db import connection

from recommendations.models import DataProfile
from tests.recommendations.test_data_profile import build_history


def _database_url_of_test_database() -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.mark.services("postgres", "redis")
@pytest.mark.django_db(transaction=True)
def test_worker_consumes_the_training_queue_and_writes_to_postgres(shop, real_celery):
    from recommendations.tasks import data_profile_refresh

    build_history(shop)
    env = {
        **os.environ,
        "DATABASE_URL": _database_url_of_test_database(),
        "REDIS_URL": settings.REDIS_URL,
        "OPENBLAS_NUM_THREADS": "1",
    }
    # The worker listens to the training queue only: the task arrives only if it is routed there.
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--queues",
            "training",
            "--pool",
            "solo",
            "--hostname",
            f"test-{uuid.uuid4().hex[:8]}@%h",
            "--without-gossip",
            "--without-mingle",
            "--loglevel",
            "INFO",
        ],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        result = data_profile_refresh.delay(shop.pk)
        assert result.id
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not DataProfile.all_shops.filter(shop=shop).exists():
            assert worker.poll() is None, "the worker exited early"
            time.sleep(0.25)
        profile = DataProfile.all_shops.filter(shop=shop).first()
    finally:
        worker.terminate()
        output, _ = worker.communicate(timeout=30)

    assert profile is not None, f"the worker did not run the task in 60 s; its log:\n{output}"
    assert profile.paid_orders == 3 and profile.multi_item_orders == 2
    assert "recommendations.data_profile_refresh" in output
    assert "succeeded" in output
