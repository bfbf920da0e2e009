"""A/B tests of a storefront block: validated creation (fixed duration, no overlap with another
test of the same block), stopping, visitor counts from the widget, and the arm a visitor sees."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import zoneinfo
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from django.core.cache import cache
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from recommendations.engine.experiments import arm_assign
from recommendations.models import Experiment, ExperimentDailyCount
from recommendations.storefront.cache import storefront_invalidate
from shops.errors import ValidationFailed
from shops.models import Shop
from shops.plans import shop_plan_get

ARM_KEYS = ("A", "B", "C")
MIN_DAYS, MAX_DAYS = 7, 60
MAX_START_DAYS_AHEAD = 30
MIN_WEIGHT = 10


@dataclass(frozen=True)
class Assignment:
    experiment_id: int
    arm: str
    strategy: str


def _local_midnight(shop: Shop, day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=zoneinfo.ZoneInfo(shop.timezone or "UTC"))


def _whole_between(value: object, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _clean_arms(arms, errors: dict[str, str]) -> list[dict]:
    if not isinstance(arms, Sequence) or isinstance(arms, str) or not 2 <= len(arms) <= len(ARM_KEYS):
        errors["arms"] = f"two or {len(ARM_KEYS)} arms"
        return []
    clean = []
    for index, arm in enumerate(arms):
        key = ARM_KEYS[index]
        strategy = arm.get("strategy") if isinstance(arm, Mapping) else None
        weight = arm.get("weight") if isinstance(arm, Mapping) else None
        if strategy not in Experiment.Strategy.values:
            errors[f"arms.{key}.strategy"] = "model, popular or none"
        if not _whole_between(weight, MIN_WEIGHT, 100 - MIN_WEIGHT):
            errors[f"arms.{key}.weight"] = f"a whole percentage from {MIN_WEIGHT} to {100 - MIN_WEIGHT}"
        clean.append({"key": key, "strategy": strategy, "weight": weight})
    strategies = [arm["strategy"] for arm in clean]
    if len(set(strategies)) != len(strategies) and not any(key.startswith("arms.") for key in errors):
        errors["arms"] = "each arm must show something different"
    weights = [arm["weight"] for arm in clean]
    if all(isinstance(w, int) for w in weights) and sum(weights) != 100 and "arms" not in errors:
        if not any(key.endswith(".weight") for key in errors):
            errors["arms"] = f"the shares must add up to 100% (they add up to {sum(weights)}%)"
    return clean


@transaction.atomic
def experiment_create(
    *,
    shop: Shop,
    name: str,
    block: str,
    arms: Sequence[Mapping],
    duration_days: int,
    starts_on: dt.date | None = None,
    now: dt.datetime | None = None,
) -> Experiment:
    """Validate and schedule a test; ValidationFailed lists every problem and nothing is saved.

    The duration is fixed now and cannot be changed: the result is read when the test ends.
    """
    now = now or timezone.now()
    today = now.astimezone(zoneinfo.ZoneInfo(shop.timezone or "UTC")).date()
    errors: dict[str, str] = {}
    name = (name or "").strip() if isinstance(name, str) else ""
    if not 1 <= len(name) <= 120:
        errors["name"] = "a name of 1 to 120 characters"
    if block not in Experiment.Block.values:
        errors["block"] = "related, bought_together or cart"
    clean_arms = _clean_arms(arms, errors)
    if not _whole_between(duration_days, MIN_DAYS, MAX_DAYS):
        errors["duration_days"] = f"a whole number of days from {MIN_DAYS} to {MAX_DAYS}"
    starts_on = starts_on or today
    if not today <= starts_on <= today + dt.timedelta(days=MAX_START_DAYS_AHEAD):
        errors["starts_on"] = f"today or a day in the next {MAX_START_DAYS_AHEAD} days"
    if errors:
        _raise(errors)
    starts_at = now if starts_on == today else _local_midnight(shop, starts_on)
    ends_at = _local_midnight(shop, starts_on + dt.timedelta(days=duration_days))
    # Serialise creations per shop, so two overlapping tests cannot both pass the check below.
    Shop.objects.select_for_update().filter(pk=shop.pk).first()
    plan = shop_plan_get(shop=shop)
    open_tests = Experiment.objects.filter(stopped_at__isnull=True, ends_at__gt=now).count()
    if not plan.allows_experiments(open_tests=open_tests):
        _raise(
            {
                "block": f"the {plan.name} plan includes no A/B tests: upgrade on the Overview"
                if plan.experiments == 0
                else f"the {plan.name} plan runs {plan.experiments} A/B test at a time: stop one, "
                "or upgrade on the Overview"
            }
        )
    overlapping = (
        Experiment.objects.filter(block=block, stopped_at__isnull=True, ends_at__gt=starts_at, starts_at__lt=ends_at)
        .order_by("starts_at")
        .first()
    )
    if overlapping is not None:
        _raise(
            {
                "block": f"overlaps “{overlapping.name}” on the same block "
                f"({overlapping.starts_at:%Y-%m-%d} to {overlapping.ends_at:%Y-%m-%d}): "
                "one test per block at a time, or neither result can be trusted"
            }
        )
    experiment = Experiment.objects.create(
        shop=shop,
        name=name,
        block=block,
        arms=clean_arms,
        salt=secrets.token_hex(8),
        starts_at=starts_at,
        ends_at=ends_at,
    )
    transaction.on_commit(lambda: storefront_invalidate(domain=shop.domain))
    return experiment


def _raise(errors: dict[str, str]) -> None:
    raise ValidationFailed.for_fields("experiment", errors)


@transaction.atomic
def experiment_stop(*, shop: Shop, experiment_id: int, now: dt.datetime | None = None) -> Experiment:
    """End a scheduled or running test early. Its figures stay, without a verdict: stopping
    when the numbers look good is how tests lie."""
    now = now or timezone.now()
    experiment = Experiment.objects.select_for_update().filter(pk=experiment_id).first()
    if experiment is None:
        raise Experiment.DoesNotExist(f"No experiment {experiment_id}.")
    if experiment.state(now) in ("scheduled", "running"):
        experiment.stopped_at = now
        experiment.save(update_fields=["stopped_at"])
        transaction.on_commit(lambda: storefront_invalidate(domain=shop.domain))
    return experiment


def experiments_for_storefront(*, now: dt.datetime | None = None) -> list[dict]:
    """The scheduled and running tests of the shop in scope, as the storefront keeps them in its
    cached state; whether one runs is decided per request from its start and end."""
    now = now or timezone.now()
    return [
        {
            "id": pk,
            "block": block,
            "salt": salt,
            "arms": arms,
            "starts_at": start.timestamp(),
            "ends_at": end.timestamp(),
        }
        for pk, block, salt, arms, start, end in Experiment.objects.filter(
            stopped_at__isnull=True, ends_at__gt=now
        ).values_list("pk", "block", "salt", "arms", "starts_at", "ends_at")
    ]


def experiment_assignment(*, running: Sequence[Mapping], block: str, visitor: str, now: float) -> Assignment | None:
    """The arm this visitor sees on this block, if a test of it is running at `now`."""
    for experiment in running:
        if experiment["block"] == block and experiment["starts_at"] <= now < experiment["ends_at"]:
            arms = experiment["arms"]
            index = arm_assign(salt=experiment["salt"], visitor=visitor, weights=[arm["weight"] for arm in arms])
            return Assignment(experiment["id"], arms[index]["key"], arms[index]["strategy"])
    return None


@dataclass(frozen=True)
class ExposureReport:
    """The widget's claim that this visitor first saw this block under this test and arm."""

    experiment_id: int
    arm: str
    block: str
    visitor: str


def experiment_exposures_verify(
    *, shop: Shop, reports: Sequence[ExposureReport], now: dt.datetime | None = None
) -> dict[tuple[int, str], int]:
    """The reports that hold, as counts per (test, arm): the test runs on the block named, the
    server's own assignment puts the visitor in the arm named, and the visitor was not counted
    for the test before. Anything else would let a forged report move a test's figures.

    "Counted before" is remembered in the cache until the test ends, as a hash of the test's
    salt and the visitor id (nothing is stored with the counts); without a cache the widget's
    own once-per-visitor rule is all there is.
    """
    now = now or timezone.now()
    running = {
        pk: (block, salt, arms, ends_at)
        for pk, block, salt, arms, ends_at in Experiment.objects.filter(
            pk__in={report.experiment_id for report in reports},
            stopped_at__isnull=True,
            starts_at__lte=now,
            ends_at__gt=now,
        ).values_list("pk", "block", "salt", "arms", "ends_at")
    }
    counts: dict[tuple[int, str], int] = {}
    for report in reports:
        if report.experiment_id not in running:
            continue
        block, salt, arms, ends_at = running[report.experiment_id]
        index = arm_assign(salt=salt, visitor=report.visitor, weights=[arm["weight"] for arm in arms])
        if report.block != block or arms[index]["key"] != report.arm:
            continue
        if not _first_sight(
            shop=shop, experiment_id=report.experiment_id, salt=salt, visitor=report.visitor, until=ends_at, now=now
        ):
            continue
        key = (report.experiment_id, report.arm)
        counts[key] = counts.get(key, 0) + 1
    return counts


def _first_sight(
    *, shop: Shop, experiment_id: int, salt: str, visitor: str, until: dt.datetime, now: dt.datetime
) -> bool:
    seen = hashlib.sha256(f"{salt}:seen:{visitor}".encode()).hexdigest()[:24]
    try:
        return cache.add(
            f"shop:{shop.pk}:experiment:{experiment_id}:seen:{seen}",
            1,
            timeout=max(1, int((until - now).total_seconds())),
        )
    except Exception:
        return True


def experiment_exposures_record(*, shop: Shop, exposures: Mapping[tuple[int, str], int], day: dt.date) -> int:
    """Add the widget's first-sight reports of visitors to the day's counts. Reports for a test
    that is not running, or an arm it does not have, are dropped. Returns the visitors counted."""
    now = timezone.now()
    valid = {
        pk: {arm["key"] for arm in arms}
        for pk, arms in Experiment.objects.filter(
            pk__in={pk for pk, _ in exposures}, stopped_at__isnull=True, starts_at__lte=now, ends_at__gt=now
        ).values_list("pk", "arms")
    }
    counted = 0
    for (experiment_id, arm), count in sorted(exposures.items()):
        if arm not in valid.get(experiment_id, ()):
            continue
        row, created = ExperimentDailyCount.objects.get_or_create(
            shop=shop, experiment_id=experiment_id, day=day, arm=arm, defaults={"exposures": count}
        )
        if not created:
            ExperimentDailyCount.objects.filter(pk=row.pk).update(exposures=F("exposures") + count)
        counted += count
    return counted
