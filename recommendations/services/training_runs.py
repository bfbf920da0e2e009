"""A training run's life outside the pipeline: queueing, the per-shop lock and its heartbeat,
finishing, giving back on worker shutdown, and reaping runs whose worker died.

A worker can vanish at any moment (kill -9, the out-of-memory killer, a lost machine), so nothing
here relies on the dying process cleaning up: a running training renews a short lock and the
run's `heartbeat_at`; a run whose heartbeat is older than `STALE_AFTER_SECONDS` is failed with
the reason, its lock freed, and the shop queued again, a bounded number of times.
"""

from __future__ import annotations

import _thread
import contextlib
import datetime as dt
import logging
import signal
import threading
from collections.abc import Iterator

from django.core.cache import cache
from django.db import connections, transaction
from django.db.models import Q
from django.utils import timezone

from recommendations.models import TrainingRun
from shops.models import Shop
from shops.tenancy import shop_scope, shop_scope_by_id

logger = logging.getLogger("basketry.training")

# The lock is short so that a dead worker's lock frees itself within minutes; a live training
# renews it (and the run's heartbeat) from a thread every HEARTBEAT_SECONDS. A thread rather than
# the pipeline's step boundaries: one step (precompute) already takes 9 s for 1,200 products and
# 15,000 orders and grows with the catalogue, so a shop 10x that size would outlast the lock.
LOCK_SECONDS = 2 * 60
HEARTBEAT_SECONDS = 20
# Six missed heartbeats: a worker stalled that long (swapping, a paused VM) is treated as dead.
STALE_AFTER_SECONDS = LOCK_SECONDS
# A shop whose trainings keep killing their worker (too big for its memory or time limit) would
# otherwise be retried for ever, taking a worker down each time.
MAX_LOST_IN_A_ROW = 3
# How long a training may go on once its worker is asked to shut down (a deploy): long enough for
# a shop the size of UCI Online Retail to finish; larger ones give the run back and are queued
# again. The service manager's stop timeout must be longer (docs/OPERATIONS.md).
SHUTDOWN_GRACE_SECONDS = 60
# A run queued this long ago was never picked up (its message was lost with a broker outage);
# it would otherwise keep the shop out of the nightly retraining for good.
QUEUED_GIVE_UP_AFTER = dt.timedelta(hours=24)

FINISHED = (TrainingRun.Status.SUCCEEDED, TrainingRun.Status.FAILED)


class TrainingInterrupted(Exception):
    """The worker is shutting down and the training did not finish within its grace period."""


class TrainingLost(Exception):
    """The run no longer holds the shop's training lock: it was reaped or another run took over."""


def _lock_key(shop_id: int) -> str:
    return f"shop:{shop_id}:training-lock"


def training_lock_acquire(*, shop_id: int, run_id: int) -> bool:
    return bool(cache.add(_lock_key(shop_id), run_id, timeout=LOCK_SECONDS))


def training_lock_renew(*, shop_id: int, run_id: int) -> bool:
    """Extend the lock by LOCK_SECONDS if this run still holds it; False when it does not."""
    if cache.get(_lock_key(shop_id)) != run_id:
        return False
    return bool(cache.touch(_lock_key(shop_id), LOCK_SECONDS))


def training_lock_release(*, shop_id: int, run_id: int) -> None:
    if cache.get(_lock_key(shop_id)) == run_id:
        cache.delete(_lock_key(shop_id))


def training_run_create(*, shop: Shop, trigger: str) -> TrainingRun:
    return TrainingRun.objects.create(shop=shop, trigger=trigger, status=TrainingRun.Status.QUEUED)


def training_run_start(*, shop: Shop, trigger: str) -> TrainingRun:
    """Record a queued run and hand it to a worker once the transaction commits."""
    from recommendations.routing import training_queue_for, training_time_limits
    from recommendations.tasks import training_run_execute as training_run_execute_task

    run = training_run_create(shop=shop, trigger=trigger)
    queue = training_queue_for(shop_id=shop.pk)
    limits = training_time_limits(queue)
    transaction.on_commit(lambda: training_run_execute_task.apply_async((shop.pk, run.pk), queue=queue, **limits))
    return run


def training_run_finish(*, run: TrainingRun, status: str, **fields) -> TrainingRun:
    """End a running run. A run that is no longer running (the reaper failed it while its worker
    was stalled) keeps the reaper's verdict."""
    TrainingRun.objects.filter(pk=run.pk, status=TrainingRun.Status.RUNNING).update(
        status=status, finished_at=timezone.now(), **fields
    )
    run.refresh_from_db()
    return run


class TrainingHeartbeat:
    """Renews the run's lock and `heartbeat_at` from a daemon thread while the training runs.

    `lost` turns true when the lock belongs to someone else (or expired and was freed): the
    pipeline then stops at its next step instead of publishing over another run's work.
    """

    def __init__(self, *, shop_id: int, run_id: int, interval: float = HEARTBEAT_SECONDS) -> None:
        self.shop_id = shop_id
        self.run_id = run_id
        self.interval = interval
        self.lost = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"training-heartbeat-{run_id}", daemon=True)

    def __enter__(self) -> TrainingHeartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def beat(self) -> None:
        try:
            with shop_scope(self.shop_id):
                TrainingRun.objects.filter(pk=self.run_id, status=TrainingRun.Status.RUNNING).update(
                    heartbeat_at=timezone.now()
                )
            if not training_lock_renew(shop_id=self.shop_id, run_id=self.run_id):
                self.lost = True
        except Exception:
            # A database or Redis blip costs one heartbeat, not the training: six in a row are
            # needed before the run counts as dead.
            logger.warning("training.heartbeat_failed shop_id=%s run_id=%s", self.shop_id, self.run_id, exc_info=True)

    def _loop(self) -> None:
        try:
            while not self._stop.wait(self.interval):
                self.beat()
        finally:
            # This thread's own connections; the training's are left alone.
            connections.close_all()


@contextlib.contextmanager
def training_shutdown_guard(*, grace_seconds: float | None = None) -> Iterator[None]:
    """While a training runs in a worker process, turn SIGTERM into "finish within the grace
    period, else raise TrainingInterrupted", so that the run is given back rather than cut off.

    Signal handlers can only be set from the main thread (a prefork pool process runs its task
    there); elsewhere this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    if grace_seconds is None:
        grace_seconds = SHUTDOWN_GRACE_SECONDS
    from billiard.process import current_process

    in_worker_main_process = current_process().name == "MainProcess"
    state = {"asked": False, "expired": grace_seconds <= 0}
    timers: list[threading.Timer] = []

    def expire() -> None:
        state["expired"] = True
        # Runs the handler below in the main thread, between two Python instructions.
        _thread.interrupt_main(signal.SIGTERM)

    def on_sigterm(signum, frame) -> None:
        if not state["asked"]:
            state["asked"] = True
            logger.warning("training.shutdown_requested grace_seconds=%s", grace_seconds)
            if callable(previous) and in_worker_main_process:
                # The solo pool runs tasks in the worker's main process, whose handler must still
                # learn that the worker is to stop. A pool process's own handler would exit.
                previous(signum, frame)
            if not state["expired"]:
                timer = threading.Timer(grace_seconds, expire)
                timer.daemon = True
                timers.append(timer)
                timer.start()
        if state["expired"]:
            raise TrainingInterrupted(f"the worker shut down; the training did not finish within {grace_seconds:g} s")

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        yield
    finally:
        for timer in timers:
            timer.cancel()
        signal.signal(signal.SIGTERM, previous)


SHUTDOWN_REASON = "The worker shut down during training (a deploy or restart); the training was queued again."


def _lost_in_a_row() -> int:
    """How many of the shop's latest finished runs, in a row, lost their worker."""
    count = 0
    for lost in (
        TrainingRun.objects.filter(status__in=FINISHED)
        .order_by("-pk")
        .values_list("worker_lost", flat=True)[:MAX_LOST_IN_A_ROW]
    ):
        if not lost:
            break
        count += 1
    return count


def training_retries_exhausted() -> bool:
    """Whether the shop in scope lost its worker in MAX_LOST_IN_A_ROW trainings in a row; only a
    training started by hand (`manage.py train`) tries again."""
    return _lost_in_a_row() >= MAX_LOST_IN_A_ROW


def _stale(cutoff: dt.datetime) -> Q:
    return Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, started_at__lt=cutoff)


def _when(moment: dt.datetime | None) -> str:
    return timezone.localtime(moment, dt.UTC).strftime("%Y-%m-%d %H:%M:%S") if moment else "its start"


def _run_fail_lost(*, shop: Shop, run: TrainingRun, cutoff: dt.datetime) -> bool:
    """Fail one run whose worker stopped, free its lock, queue the shop again unless the cap is
    reached. False when the run came back to life or was finished meanwhile."""
    since = _when(run.heartbeat_at or run.started_at)
    lost = _lost_in_a_row() + 1
    retry = lost < MAX_LOST_IN_A_ROW
    if retry:
        reason = f"The worker stopped during training (no heartbeat since {since} UTC); it will be retried."
    else:
        reason = (
            f"The worker stopped during training (no heartbeat since {since} UTC); {lost} trainings in a row "
            "lost their worker, so automatic retries stop here (is the shop too large for the workers' memory "
            "or time limit?). `manage.py train` tries again."
        )
    updated = TrainingRun.objects.filter(_stale(cutoff), pk=run.pk, status=TrainingRun.Status.RUNNING).update(
        status=TrainingRun.Status.FAILED, finished_at=timezone.now(), worker_lost=True, error=reason
    )
    if not updated:
        return False
    logger.warning("training.reaped shop_id=%s run_id=%s retry=%s", shop.pk, run.pk, retry)
    training_lock_release(shop_id=shop.pk, run_id=run.pk)
    if retry:
        training_run_start(shop=shop, trigger=run.trigger)
    return True


def training_run_take_over(*, shop: Shop, run: TrainingRun) -> float | None:
    """A delivery of the task found its run `running`: the worker that held it is presumed dead
    (the broker redelivers only after a worker loss or the visibility timeout). If the heartbeat
    is stale, fail the run and queue a fresh one (returns None); else return how many seconds to
    wait before looking again, since a live heartbeat means it may still be running."""
    run.refresh_from_db()
    if run.status != TrainingRun.Status.RUNNING:
        return None
    cutoff = timezone.now() - dt.timedelta(seconds=STALE_AFTER_SECONDS)
    beat = run.heartbeat_at or run.started_at
    if beat is not None and beat >= cutoff:
        return (beat - cutoff).total_seconds() + HEARTBEAT_SECONDS
    _run_fail_lost(shop=shop, run=run, cutoff=cutoff)
    return None


def training_runs_reap(*, stale_after: dt.timedelta = dt.timedelta(seconds=STALE_AFTER_SECONDS)) -> int:
    """Fail every running run whose heartbeat is older than `stale_after` (its worker died), free
    its lock and queue its shop again; fail queued runs no worker picked up in a day. Returns how
    many runs were failed."""
    now = timezone.now()
    cutoff = now - stale_after
    forgotten = Q(status=TrainingRun.Status.QUEUED, created_at__lt=now - QUEUED_GIVE_UP_AFTER)
    # Across shops only to find which shops to enter; every change happens inside a shop's scope.
    shop_ids = sorted(
        set(
            TrainingRun.all_shops.filter((Q(status=TrainingRun.Status.RUNNING) & _stale(cutoff)) | forgotten)
            .values_list("shop_id", flat=True)
            .distinct()
        )
    )
    reaped = 0
    for shop_id in shop_ids:
        with shop_scope_by_id(shop_id) as shop:
            if shop is None:
                continue
            for run in TrainingRun.objects.filter(_stale(cutoff), status=TrainingRun.Status.RUNNING).order_by("pk"):
                reaped += _run_fail_lost(shop=shop, run=run, cutoff=cutoff)
            reaped += TrainingRun.objects.filter(forgotten).update(
                status=TrainingRun.Status.FAILED,
                finished_at=now,
                error="No worker picked this training up within a day (was the broker down?); "
                "the next nightly retraining queues it again.",
            )
    return reaped
