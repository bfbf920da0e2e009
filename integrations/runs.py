"""A sync run's life, whatever the platform: start or resume, finish, fail."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from integrations.models import SyncRun
from shops.models import Order, Shop

# Reconciliation asks for changes since the last sync minus this overlap (clock skew, late writes).
RECONCILE_OVERLAP = dt.timedelta(minutes=10)


def sync_run_start(*, shop: Shop, kind: str) -> SyncRun:
    """The shop's unfinished run of that kind (to resume), or a new one."""
    running = SyncRun.objects.filter(status=SyncRun.Status.RUNNING).order_by("-pk")
    # A reconciliation resumes whatever run is under way (a full sync covers it); a full sync
    # resumes an unfinished full sync.
    existing = (running if kind == SyncRun.Kind.RECONCILE else running.filter(kind=kind)).first()
    if existing is not None:
        return existing
    checkpoint: dict = {}
    if kind == SyncRun.Kind.RECONCILE:
        last = (
            SyncRun.objects.filter(status=SyncRun.Status.SUCCEEDED, watermark__isnull=False)
            .order_by("-watermark")
            .first()
        )
        if last is None:
            kind = SyncRun.Kind.FULL
        else:
            checkpoint["since"] = (last.watermark - RECONCILE_OVERLAP).isoformat()
            checkpoint["since_start"] = timezone.now().isoformat()
    return SyncRun.objects.create(shop=shop, kind=kind, checkpoint=checkpoint)


def sync_run_finish(*, run: SyncRun, shop: Shop) -> None:
    from recommendations.services.training import training_after_sync

    started = run.checkpoint.get("since_start")
    run.watermark = dt.datetime.fromisoformat(started) if started else run.started_at
    run.status = SyncRun.Status.SUCCEEDED
    run.finished_at = timezone.now()
    run.error = ""
    run.save(update_fields=["watermark", "status", "finished_at", "error"])
    new_orders = run.checkpoint.get("new_orders", 0)
    known = Order.objects.count()
    if new_orders:
        training_after_sync(shop=shop, new_orders=new_orders, known_orders=known - new_orders)


def sync_run_fail(*, run: SyncRun, reason: str) -> None:
    run.status = SyncRun.Status.FAILED
    run.error = reason[:2000]
    run.finished_at = timezone.now()
    run.save(update_fields=["status", "error", "finished_at"])
