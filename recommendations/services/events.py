"""Shopper events from the widget: validated batches in, daily rollups out, raw rows purged."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence

from django.db import transaction
from django.db.models import Count
from django.db.models.functions import TruncDate
from django.utils import timezone

from recommendations.models import EventDailyRollup, ShopperEvent
from recommendations.services.experiments import (
    ExposureReport,
    experiment_exposures_record,
    experiment_exposures_verify,
)
from recommendations.services.settings import event_retention_days_get
from shops.errors import ValidationFailed
from shops.models import Shop

MAX_EVENTS_PER_BATCH = 50
BLOCKS = {"related", "bought_together", "cart"}
# The widget's report that a visitor first saw a block under test (once per visitor and test).
EXPOSURE = "exposure"
_ID_LIMIT = 255
# Tests' ids are 64-bit; a larger number is no test, and SQLite cannot even bind it in a query.
_MAX_EXPERIMENT_ID = 2**63 - 1
# The widget's random visitor id, as the storefront's recommendations endpoint takes it.
_VISITOR = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


def _clean_id(value, *, field: str, index: int, required: bool) -> str:
    if value in (None, "") and not required:
        return ""
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        raise ValidationFailed(f"events[{index}].{field}: a product id")
    text = str(value).strip()
    if not text or len(text) > _ID_LIMIT or not text.isprintable():
        raise ValidationFailed(f"events[{index}].{field}: a product id of at most {_ID_LIMIT} printable characters")
    return text


def _exposure(event: Mapping, index: int) -> ExposureReport:
    """An A/B test's first sight of a visitor: which test, arm and visitor id (the widget's random
    id, used only to recompute the arm and never stored)."""
    unknown = set(event) - {"type", "block", "experiment", "arm", "visitor"}
    if unknown:
        raise ValidationFailed(f"events[{index}]: unknown field(s) {', '.join(sorted(map(str, unknown)))}")
    experiment, arm, visitor = event.get("experiment"), event.get("arm"), event.get("visitor")
    if not isinstance(experiment, int) or isinstance(experiment, bool) or not 0 < experiment <= _MAX_EXPERIMENT_ID:
        raise ValidationFailed(f"events[{index}].experiment: the id of a test")
    if arm not in ("A", "B", "C"):
        raise ValidationFailed(f"events[{index}].arm: A, B or C")
    if not isinstance(visitor, str) or not _VISITOR.match(visitor):
        raise ValidationFailed(f"events[{index}].visitor: the visitor id the arm was assigned to")
    return ExposureReport(experiment_id=experiment, arm=arm, block=event["block"], visitor=visitor)


def event_batch_record(*, shop: Shop, events: Sequence[Mapping]) -> int:
    """Validate a whole batch, then store it; a single bad event rejects the batch (nothing stored).

    Exposures of A/B tests go to the tests' daily visitor counts instead of the raw events, and
    only those the server's own assignment confirms (`experiment_exposures_verify`) count.
    Must run inside the shop's scope. Returns how many events were accepted (exposures that
    did not hold are left out of the count).
    """
    if not isinstance(events, list) or not events:
        raise ValidationFailed("events: a non-empty list")
    if len(events) > MAX_EVENTS_PER_BATCH:
        raise ValidationFailed(f"events: at most {MAX_EVENTS_PER_BATCH} per batch")
    now = timezone.now()
    rows = []
    reports: list[ExposureReport] = []
    for index, event in enumerate(events):
        if not isinstance(event, Mapping):
            raise ValidationFailed(f"events[{index}]: an object")
        if not isinstance(event.get("block"), str) or event["block"] not in BLOCKS:
            raise ValidationFailed(f"events[{index}].block: one of {', '.join(sorted(BLOCKS))}")
        if event.get("type") == EXPOSURE:
            reports.append(_exposure(event, index))
            continue
        unknown = set(event) - {"type", "block", "product_id", "anchor_id"}
        if unknown:
            raise ValidationFailed(f"events[{index}]: unknown field(s) {', '.join(sorted(map(str, unknown)))}")
        if event.get("type") not in ShopperEvent.Kind.values:
            kinds = ", ".join([*ShopperEvent.Kind.values, EXPOSURE])
            raise ValidationFailed(f"events[{index}].type: one of {kinds}")
        rows.append(
            ShopperEvent(
                shop=shop,
                kind=event["type"],
                block=event["block"],
                product_external_id=_clean_id(event.get("product_id"), field="product_id", index=index, required=True),
                anchor_external_id=_clean_id(event.get("anchor_id"), field="anchor_id", index=index, required=False),
                occurred_at=now,
            )
        )
    with transaction.atomic():
        ShopperEvent.objects.bulk_create(rows)
        exposures = experiment_exposures_verify(shop=shop, reports=reports, now=now) if reports else {}
        counted = experiment_exposures_record(shop=shop, exposures=exposures, day=now.date()) if exposures else 0
    return len(rows) + counted


@transaction.atomic
def events_roll_up(*, shop: Shop, before: dt.date | None = None) -> int:
    """Fold raw events of finished days (before `before`, default today) into daily rollups, then
    delete raw events older than the shop's retention period. Safe to run twice: a day is recounted
    from its raw events while they are kept. Returns the number of rollup rows written."""
    before = before or timezone.now().date()
    counts = (
        ShopperEvent.objects.filter(occurred_at__date__lt=before)
        .annotate(day=TruncDate("occurred_at"))
        .values("day", "block", "kind", "product_external_id")
        .annotate(count=Count("pk"))
    )
    rollups = [
        EventDailyRollup(
            shop=shop,
            day=row["day"],
            block=row["block"],
            kind=row["kind"],
            product_external_id=row["product_external_id"],
            count=row["count"],
        )
        for row in counts
    ]
    # One upsert for the whole set, not a query per product and day.
    EventDailyRollup.objects.bulk_create(
        rollups,
        batch_size=1000,
        update_conflicts=True,
        unique_fields=["shop", "day", "block", "kind", "product_external_id"],
        update_fields=["count"],
    )
    raw_events_purge(shop=shop)
    return len(rollups)


def raw_events_purge(*, shop: Shop) -> int:
    """Delete the shop's raw events older than its retention (see `event_retention_days_get`).

    Whole days only: a day that keeps any raw event keeps all of them, so the roll-up, which
    recounts every day that still has raw events, never overwrites a day's count with part of
    it. Runs in the shop's scope; returns how many events were deleted."""
    keep_from_day = timezone.localdate() - dt.timedelta(days=event_retention_days_get(shop=shop))
    keep_from = timezone.make_aware(dt.datetime.combine(keep_from_day, dt.time.min))
    deleted, _ = ShopperEvent.objects.filter(occurred_at__lt=keep_from).delete()
    return deleted
