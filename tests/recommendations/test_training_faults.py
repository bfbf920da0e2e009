"""Trainings under faults: a worker killed mid-training, a worker shut down mid-training, stale
and fresh heartbeats, duplicate deliveries, and a shop whose trainings keep losing their worker."""

from __future__ import annotations

import datetime as dt
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from recommendations.models import ModelVersion, TrainingRun
from recommendations.services import training_runs
from recommendations.services.training import (
    training_after_sync,
    training_nightly_fan_out,
    training_run_create,
    training_run_execute,
)
from recommendations.services.training_runs import (
    MAX_LOST_IN_A_ROW,
    SHUTDOWN_REASON,
    TrainingHeartbeat,
    _lock_key,
    training_lock_renew,
    training_run_start,
    training_run_take_over,
    training_runs_reap,
    training_shutdown_guard,
)
from recommendations.tasks import training_run_execute as training_run_execute_task
from shops.demo.generator import demo_shop_generate
from shops.services.demo import demo_shop_load
from shops.tenancy import shop_scope
from tests.factories import make_training_run
from tests.recommendations.test_celery_worker import _database_url_of_test_database

LOST_REASON_START = "The worker stopped during training (no heartbeat since "
RECEIVED = re.compile(r"Task recommendations\.training_run_execute\[[0-9a-f-]+\] received")
# Patches a constant before the worker starts, so that its pool processes inherit it.
SHORT_GRACE = (
    "import os, django; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'config.settings'); django.setup(); "
    "import recommendations.services.training_runs as runs; runs.SHUTDOWN_GRACE_SECONDS = 1"
)


def load_demo(shop, *, products: int, orders: int) -> None:
    demo = demo_shop_generate(seed=5, product_count=products, order_count=orders)
    with shop_scope(shop):
        demo_shop_load(shop=shop, demo=demo)


def runs_of(shop) -> list[TrainingRun]:
    with shop_scope(shop):
        return list(TrainingRun.objects.order_by("pk"))


def wait_for(condition, *, timeout: float, what: str, worker: subprocess.Popen | None = None, log: Path | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        if worker is not None:
            assert worker.poll() is None, f"the worker exited early; its log:\n{log.read_text() if log else ''}"
        time.sleep(0.05)
    raise AssertionError(f"{what} within {timeout} s" + (f"; the worker's log:\n{log.read_text()}" if log else ""))


def start_worker(log: Path, *, preamble: str = "") -> subprocess.Popen:
    """A real prefork worker (one pool process) on the training queue, on the test database."""
    env = {
        **os.environ,
        "DATABASE_URL": _database_url_of_test_database(),
        "REDIS_URL": settings.REDIS_URL,
        "OPENBLAS_NUM_THREADS": "1",
    }
    argv = [
        "celery",
        "-A",
        "config",
        "worker",
        "--queues",
        "training",
        "--pool",
        "prefork",
        "--concurrency",
        "1",
        "--hostname",
        f"faults-{uuid.uuid4().hex[:8]}@%h",
        "--without-gossip",
        "--without-mingle",
        "--loglevel",
        "INFO",
        "--logfile",
        str(log),
    ]
    code = "; ".join(
        [*filter(None, [preamble]), f"import sys; from celery.__main__ import main; sys.argv = {argv!r}; main()"]
    )
    return subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )


def stop_worker(worker: subprocess.Popen) -> None:
    if worker.poll() is None:
        worker.terminate()
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait(timeout=10)


def pool_processes(worker: subprocess.Popen) -> list[int]:
    children = Path(f"/proc/{worker.pid}/task/{worker.pid}/children").read_text().split()
    return [int(pid) for pid in children]


def run_status(run: TrainingRun) -> str:
    return TrainingRun.all_shops.filter(pk=run.pk).values_list("status", flat=True).first()


# -- a real worker, killed and shut down -------------------------------------------------------


@pytest.mark.services("postgres", "redis")
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_training_gives_the_run_back_and_the_shop_trains_again(shop, real_celery, tmp_path):
    # Large enough that a training takes several seconds on one core: the kill lands mid-way.
    load_demo(shop, products=800, orders=10000)
    log = tmp_path / "worker.log"
    worker = start_worker(log)
    try:
        wait_for(lambda: log.exists() and "ready." in log.read_text(), timeout=60, what="started", worker=worker)
        with shop_scope(shop):
            first = training_run_start(shop=shop, trigger=TrainingRun.Trigger.MERCHANT)
        wait_for(lambda: run_status(first) == "running", timeout=60, what="training started", worker=worker, log=log)
        time.sleep(1)
        (pool,) = pool_processes(worker)
        os.kill(pool, signal.SIGKILL)
        time.sleep(0.5)
        assert run_status(first) == "running", "the training finished before the kill: it must be made bigger"

        # The message goes back to the queue: the worker receives the same task a second time.
        wait_for(
            lambda: len(RECEIVED.findall(log.read_text())) >= 2,
            timeout=30,
            what="the killed worker's message was delivered again",
            worker=worker,
            log=log,
        )
        # ... and, while the dead run's heartbeat is fresh, waits for it rather than running twice.
        assert run_status(first) == "running"

        time.sleep(1.1)
        assert training_runs_reap(stale_after=dt.timedelta(seconds=1)) == 1
        first.refresh_from_db()
        assert first.status == TrainingRun.Status.FAILED and first.worker_lost
        assert first.error.startswith(LOST_REASON_START)
        assert first.error.endswith("UTC); it will be retried.")

        def retried() -> TrainingRun | None:
            later = [run for run in runs_of(shop) if run.pk > first.pk]
            return later[0] if later and later[0].status in ("succeeded", "failed", "skipped") else None

        second = wait_for(retried, timeout=120, what="the retried training finished", worker=worker, log=log)
    finally:
        stop_worker(worker)

    # The dead run's lock (2 minutes) was freed: the retry was not turned away as a duplicate.
    assert second.status == TrainingRun.Status.SUCCEEDED, second.error
    assert second.trigger == TrainingRun.Trigger.MERCHANT
    assert cache.get(_lock_key(shop.pk)) is None
    with shop_scope(shop):
        assert ModelVersion.objects.get(status=ModelVersion.Status.LIVE).training_run_id == second.pk
        assert TrainingRun.objects.count() == 2


@pytest.mark.services("postgres", "redis")
@pytest.mark.django_db(transaction=True)
def test_a_worker_shut_down_mid_training_gives_the_run_back_cleanly(shop, real_celery, tmp_path):
    load_demo(shop, products=800, orders=10000)
    log = tmp_path / "worker.log"
    # A one-second grace: the training cannot finish in it, so it must be given back.
    worker = start_worker(log, preamble=SHORT_GRACE)
    try:
        wait_for(lambda: log.exists() and "ready." in log.read_text(), timeout=60, what="started", worker=worker)
        with shop_scope(shop):
            first = training_run_start(shop=shop, trigger=TrainingRun.Trigger.NIGHTLY)
        wait_for(lambda: run_status(first) == "running", timeout=60, what="training started", worker=worker, log=log)
        worker.send_signal(signal.SIGTERM)  # what a deploy does: to the worker, not its pool
        worker.wait(timeout=60)
    finally:
        stop_worker(worker)

    first.refresh_from_db()
    assert first.status == TrainingRun.Status.FAILED, log.read_text()
    assert first.error == SHUTDOWN_REASON and not first.worker_lost
    (second,) = [run for run in runs_of(shop) if run.pk != first.pk]
    assert second.status == TrainingRun.Status.QUEUED and second.trigger == TrainingRun.Trigger.NIGHTLY
    assert cache.get(_lock_key(shop.pk)) is None
    with shop_scope(shop):
        assert not ModelVersion.objects.exists()


# -- in process ----------------------------------------------------------------------------------


@pytest.fixture
def small_shop(shop):
    load_demo(shop, products=80, orders=1500)
    return shop


def running_run(shop, *, beat_ago: dt.timedelta, trigger: str = TrainingRun.Trigger.NIGHTLY) -> TrainingRun:
    beat = timezone.now() - beat_ago
    with shop_scope(shop):
        run = make_training_run(
            shop, status=TrainingRun.Status.RUNNING, trigger=trigger, started_at=beat, heartbeat_at=beat
        )
    cache.set(_lock_key(shop.pk), run.pk, timeout=training_runs.LOCK_SECONDS)
    return run


@pytest.mark.django_db
def test_a_stale_heartbeat_is_reaped_with_the_reason_and_the_shop_queued_again(shop):
    run = running_run(shop, beat_ago=dt.timedelta(minutes=5))
    try:
        assert training_runs_reap() == 1
        run.refresh_from_db()
        assert run.status == TrainingRun.Status.FAILED and run.worker_lost and run.finished_at
        stamp = timezone.localtime(run.heartbeat_at, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
        assert run.error == f"{LOST_REASON_START}{stamp} UTC); it will be retried."
        assert cache.get(_lock_key(shop.pk)) is None
        (again,) = [other for other in runs_of(shop) if other.pk != run.pk]
        assert again.status == TrainingRun.Status.QUEUED and again.trigger == run.trigger
        assert training_runs_reap() == 0  # nothing twice
    finally:
        cache.delete(_lock_key(shop.pk))


@pytest.mark.django_db
def test_a_fresh_heartbeat_is_not_reaped(shop, other_shop):
    run = running_run(shop, beat_ago=dt.timedelta(seconds=30))
    stale_elsewhere = running_run(other_shop, beat_ago=dt.timedelta(minutes=3))
    try:
        assert training_runs_reap() == 1
        run.refresh_from_db()
        assert run.status == TrainingRun.Status.RUNNING and not run.error
        assert cache.get(_lock_key(shop.pk)) == run.pk
        assert runs_of(shop) == [run]
        stale_elsewhere.refresh_from_db()
        assert stale_elsewhere.status == TrainingRun.Status.FAILED
    finally:
        cache.delete(_lock_key(shop.pk))
        cache.delete(_lock_key(other_shop.pk))


@pytest.mark.django_db
def test_the_nightly_fan_out_reaps_a_lost_run_and_trains_that_shop_again(small_shop):
    lost = running_run(small_shop, beat_ago=dt.timedelta(minutes=10))
    try:
        training_nightly_fan_out()
        lost.refresh_from_db()
        assert lost.status == TrainingRun.Status.FAILED
        assert [run.status for run in runs_of(small_shop)] == ["failed", "queued"]
    finally:
        cache.delete(_lock_key(small_shop.pk))


@pytest.mark.django_db
def test_a_queued_run_no_worker_took_for_a_day_no_longer_blocks_the_nightly_retraining(small_shop):
    with shop_scope(small_shop):
        forgotten = make_training_run(small_shop, status=TrainingRun.Status.QUEUED)
        TrainingRun.objects.filter(pk=forgotten.pk).update(created_at=timezone.now() - dt.timedelta(hours=25))
    assert training_nightly_fan_out() == 1
    forgotten.refresh_from_db()
    assert forgotten.status == TrainingRun.Status.FAILED and "No worker picked" in forgotten.error


@pytest.mark.django_db
def test_lock_renewal_extends_the_ttl_only_for_its_holder(shop):
    key = _lock_key(shop.pk)
    try:
        cache.set(key, 41, timeout=1)
        assert training_lock_renew(shop_id=shop.pk, run_id=41)
        assert not training_lock_renew(shop_id=shop.pk, run_id=42)
        time.sleep(1.3)
        assert cache.get(key) == 41, "the renewed lock expired with its first timeout"
        cache.delete(key)
        assert not training_lock_renew(shop_id=shop.pk, run_id=41)
        assert cache.get(key) is None
    finally:
        cache.delete(key)


@pytest.mark.services("postgres")
@pytest.mark.django_db(transaction=True)
def test_the_heartbeat_thread_renews_run_and_lock_and_notices_a_takeover(shop):
    run = running_run(shop, beat_ago=dt.timedelta(seconds=0))
    key = _lock_key(shop.pk)
    cache.set(key, run.pk, timeout=1)
    first_beat = run.heartbeat_at
    try:
        with TrainingHeartbeat(shop_id=shop.pk, run_id=run.pk, interval=0.2) as heartbeat:
            time.sleep(1.5)
            assert cache.get(key) == run.pk and not heartbeat.lost
            run.refresh_from_db()
            assert run.heartbeat_at > first_beat + dt.timedelta(seconds=1)
            cache.set(key, "another-run", timeout=60)
            wait_for(lambda: heartbeat.lost, timeout=5, what="the heartbeat noticed another lock holder")
        assert cache.get(key) == "another-run"
    finally:
        cache.delete(key)


@pytest.mark.django_db
def test_a_duplicate_delivery_for_a_finished_run_does_nothing(small_shop):
    with shop_scope(small_shop):
        run = training_run_execute(
            shop=small_shop, run=training_run_create(shop=small_shop, trigger=TrainingRun.Trigger.COMMAND)
        )
    assert run.status == TrainingRun.Status.SUCCEEDED
    training_run_execute_task.apply(args=(small_shop.pk, run.pk))
    again = TrainingRun.all_shops.get(pk=run.pk)
    assert (again.status, again.finished_at, again.error) == (run.status, run.finished_at, run.error)
    assert runs_of(small_shop) == [run]
    with shop_scope(small_shop):
        assert ModelVersion.objects.count() == 1


@pytest.mark.django_db
def test_a_redelivery_waits_for_a_fresh_heartbeat_and_takes_over_a_stale_one(shop):
    fresh = running_run(shop, beat_ago=dt.timedelta(seconds=10))
    try:
        with shop_scope(shop):
            wait = training_run_take_over(shop=shop, run=fresh)
        assert wait is not None and 100 < wait <= training_runs.STALE_AFTER_SECONDS + training_runs.HEARTBEAT_SECONDS
        fresh.refresh_from_db()
        assert fresh.status == TrainingRun.Status.RUNNING
        TrainingRun.all_shops.filter(pk=fresh.pk).update(heartbeat_at=timezone.now() - dt.timedelta(minutes=3))
        # The task as the broker delivers it a second time: it fails the dead run and queues a fresh one.
        training_run_execute_task.apply(args=(shop.pk, fresh.pk))
        fresh.refresh_from_db()
        assert fresh.status == TrainingRun.Status.FAILED and fresh.error.startswith(LOST_REASON_START)
        assert [run.status for run in runs_of(shop)] == ["failed", "queued"]
        assert cache.get(_lock_key(shop.pk)) is None
    finally:
        cache.delete(_lock_key(shop.pk))


@pytest.mark.django_db
def test_a_run_failed_by_the_reaper_while_its_worker_stalled_publishes_nothing(small_shop):
    def stall(step: str) -> None:
        if step == "publish":
            # Another process decides this worker is dead while it is about to publish.
            TrainingRun.all_shops.filter(status=TrainingRun.Status.RUNNING).update(
                heartbeat_at=timezone.now() - dt.timedelta(minutes=5)
            )
            training_runs_reap()

    with shop_scope(small_shop):
        run = training_run_create(shop=small_shop, trigger=TrainingRun.Trigger.NIGHTLY)
        run = training_run_execute(shop=small_shop, run=run, progress=stall)
        assert not ModelVersion.objects.exists()
    assert run.status == TrainingRun.Status.FAILED and run.error.startswith(LOST_REASON_START)


@pytest.mark.django_db
def test_sigterm_during_training_gives_the_run_back_after_the_grace_period(small_shop):
    def deploy(step: str) -> None:
        if step == "refit":
            os.kill(os.getpid(), signal.SIGTERM)

    previous = signal.getsignal(signal.SIGTERM)
    with shop_scope(small_shop), training_shutdown_guard(grace_seconds=0):
        run = training_run_create(shop=small_shop, trigger=TrainingRun.Trigger.SYNC)
        run = training_run_execute(shop=small_shop, run=run, progress=deploy)
        assert not ModelVersion.objects.exists()
    assert signal.getsignal(signal.SIGTERM) == previous
    assert run.status == TrainingRun.Status.FAILED and run.error == SHUTDOWN_REASON
    assert [(other.status, other.trigger) for other in runs_of(small_shop)] == [("failed", "sync"), ("queued", "sync")]
    assert cache.get(_lock_key(small_shop.pk)) is None


@pytest.mark.django_db
def test_sigterm_during_training_lets_it_finish_within_the_grace_period(small_shop):
    def deploy(step: str) -> None:
        if step == "refit":
            os.kill(os.getpid(), signal.SIGTERM)

    with shop_scope(small_shop), training_shutdown_guard(grace_seconds=120):
        run = training_run_create(shop=small_shop, trigger=TrainingRun.Trigger.SYNC)
        run = training_run_execute(shop=small_shop, run=run, progress=deploy)
    assert run.status == TrainingRun.Status.SUCCEEDED, run.error
    assert runs_of(small_shop) == [run]


@pytest.mark.django_db
def test_a_shop_whose_trainings_keep_losing_their_worker_stops_being_retried(small_shop):
    lost = running_run(small_shop, beat_ago=dt.timedelta(minutes=5))
    try:
        for attempt in range(1, MAX_LOST_IN_A_ROW + 1):
            assert training_runs_reap() == 1
            lost.refresh_from_db()
            assert lost.worker_lost
            queued = [run for run in runs_of(small_shop) if run.status == TrainingRun.Status.QUEUED]
            if attempt < MAX_LOST_IN_A_ROW:
                assert lost.error.endswith("it will be retried.")
                (lost,) = queued
                # A worker takes the retry and dies too.
                beat = timezone.now() - dt.timedelta(minutes=5)
                TrainingRun.all_shops.filter(pk=lost.pk).update(status="running", started_at=beat, heartbeat_at=beat)
                cache.set(_lock_key(small_shop.pk), lost.pk, timeout=120)
            else:
                assert queued == []
                assert f"{MAX_LOST_IN_A_ROW} trainings in a row lost their worker" in lost.error
                assert "automatic retries stop" in lost.error
        # Nothing automatic trains the shop again: not the nightly fan-out, not a large sync.
        assert training_nightly_fan_out() == 0
        with shop_scope(small_shop):
            assert training_after_sync(shop=small_shop, new_orders=5000, known_orders=100) is None
            # A training started by hand still runs, and a success resets the count.
            manual = training_run_execute(
                shop=small_shop, run=training_run_create(shop=small_shop, trigger=TrainingRun.Trigger.COMMAND)
            )
            assert manual.status == TrainingRun.Status.SUCCEEDED
            assert training_after_sync(shop=small_shop, new_orders=5000, known_orders=100) is not None
        assert len(runs_of(small_shop)) == MAX_LOST_IN_A_ROW + 2
    finally:
        cache.delete(_lock_key(small_shop.pk))


def test_the_training_lock_is_short_and_the_visibility_timeout_outlasts_every_hard_limit():
    from config.celery import app

    assert training_runs.LOCK_SECONDS <= 5 * 60
    assert training_runs.HEARTBEAT_SECONDS * 3 <= training_runs.LOCK_SECONDS
    visibility = settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]
    for name, task in app.tasks.items():
        if not name.startswith("celery."):
            assert (task.time_limit or settings.CELERY_TASK_TIME_LIMIT) < visibility, name
    # Trainings on the large queue get longer limits, which the visibility timeout outlasts too.
    from recommendations.routing import training_time_limits

    assert training_time_limits("training_large")["time_limit"] < visibility
    task = app.tasks["recommendations.training_run_execute"]
    assert task.acks_late and task.reject_on_worker_lost
