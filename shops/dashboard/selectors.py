"""Reads behind the dashboard pages. Run inside the shop's scope."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db.models import Sum
from django.utils import timezone

from shops.models import Shop

if TYPE_CHECKING:
    from integrations.models import SyncRun
    from recommendations.models import TrainingRun


@dataclass(frozen=True)
class Kpi:
    label: str
    value: str
    detail: str


@dataclass(frozen=True)
class ShopStatus:
    products: int
    orders: int
    sync: object | None  # the latest SyncRun
    training: object | None  # the latest TrainingRun


def shop_status_get() -> ShopStatus:
    """Counts and the latest sync and training of the shop in scope: what the admin API, the
    plugin's settings page and the dashboard all show."""
    from integrations.models import SyncRun
    from recommendations.models import TrainingRun
    from shops.models import Order, Product

    return ShopStatus(
        products=Product.objects.count(),
        orders=Order.objects.count(),
        sync=SyncRun.objects.order_by("-pk").first(),
        training=TrainingRun.objects.order_by("-pk").first(),
    )


def dashboard_overview_get(*, shop: Shop, days: int = 30) -> dict:
    """Connection and sync, data readiness, the last training and what it chose, and KPIs of
    the last `days` days from the daily rollups (never the raw events)."""
    from recommendations.models import DataProfile, EventDailyRollup, ListKind, ModelVersion, OrderDailyRollup
    from recommendations.selectors import data_readiness_summary

    status = shop_status_get()
    sync, training = status.sync, status.training
    profile = DataProfile.objects.first()
    live = ModelVersion.objects.filter(status=ModelVersion.Status.LIVE).first()
    since = timezone.now().date() - dt.timedelta(days=days)
    totals = dict(EventDailyRollup.objects.filter(day__gte=since).values_list("kind").annotate(total=Sum("count")))
    impressions = totals.get("impression", 0)
    clicks = totals.get("click", 0)
    adds = totals.get("add_to_cart", 0)
    kpis = [
        Kpi("Impressions", f"{impressions:,}", f"blocks seen in the last {days} days"),
        Kpi("Click-through rate", f"{clicks / impressions:.1%}" if impressions else "–", f"{clicks:,} clicks"),
        Kpi("Added to cart from a block", f"{adds:,}", "widget add-to-carts"),
    ]
    orders = OrderDailyRollup.objects.filter(day__gte=since).aggregate(
        orders=Sum("orders"), widget_orders=Sum("widget_orders"), attributed=Sum("attributed_revenue")
    )
    kpis.append(
        Kpi(
            "Attributed revenue",
            f"{orders['attributed'] or 0:,.2f} {shop.currency}",
            f"{orders['widget_orders'] or 0:,} of {orders['orders'] or 0:,} paid orders had a block item",
        )
    )
    return {
        "connected": shop.status == Shop.Status.INSTALLED,
        "sync": sync,
        "readiness": data_readiness_summary(profile=profile) if profile else None,
        "training": training,
        "live": live,
        "champions": sorted(
            (dict(ListKind.choices).get(kind, kind), model) for kind, model in (live.champions or {}).items()
        )
        if live
        else [],
        "kpis": kpis,
        "days": days,
    }


def _gini(values: list[int]) -> float:
    """0 when every product got the same impressions, towards 1 when a few got them all."""
    ordered = sorted(values)
    n, total = len(ordered), sum(ordered)
    if n == 0 or total == 0:
        return 0.0
    weighted = sum((index + 1) * value for index, value in enumerate(ordered))
    return (2 * weighted) / (n * total) - (n + 1) / n


def _shares(counts: dict[str, int]) -> dict[str, float]:
    total = sum(counts.values())
    return {key: value / total for key, value in counts.items()} if total else {}


def dashboard_privacy_fairness_get(*, shop: Shop, days: int = 30, new_product_days: int = 30) -> dict:
    """What is held and for how long, the privacy request log, and who gets shown: catalogue
    coverage of the live lists, concentration of impressions, exposure by category and vendor
    against their share of the catalogue, and new products' exposure."""
    from collections import Counter

    from django.conf import settings

    from integrations.models import PrivacyRequest, WebhookDelivery
    from recommendations.models import (
        EventDailyRollup,
        ExperimentDailyCount,
        ModelVersion,
        OrderDailyRollup,
        RecommendationList,
        ShopperEvent,
    )
    from recommendations.services.settings import DIVERSITY_DEFAULT, DIVERSITY_KEY, event_retention_days_get
    from shops.models import SELLABLE, Order, OrderLine, Product

    event_days = event_retention_days_get(shop=shop)
    held = [
        ("Products", Product.objects.count(), "as long as the store is connected"),
        ("Orders (baskets)", Order.objects.count(), "as long as the store is connected"),
        ("Order lines", OrderLine.objects.count(), "as long as the store is connected"),
        (
            "Customers, as keyed pseudonyms only",
            Order.objects.exclude(customer_ref=None).values("customer_ref").distinct().count(),
            "until a redact request or uninstall",
        ),
        (
            "Raw widget events (no shopper data)",
            ShopperEvent.objects.count(),
            f"{event_days} days (your setting below), then only daily counts",
        ),
        (
            "Daily counts of widget events and orders",
            EventDailyRollup.objects.count() + OrderDailyRollup.objects.count(),
            "as long as the store is connected",
        ),
        (
            "A/B test visitors per day and arm (counts; the random id stays in the shopper's browser)",
            ExperimentDailyCount.objects.count(),
            "as long as the store is connected",
        ),
        (
            "Webhook deliveries",
            WebhookDelivery.objects.count(),
            f"{settings.WEBHOOK_RETENTION_DAYS} days (set by the operator for every store)",
        ),
    ]
    sellable = list(
        Product.objects.filter(SELLABLE).values_list("pk", "external_id", "category", "vendor", "created_at")
    )
    live = ModelVersion.objects.filter(status=ModelVersion.Status.LIVE).first()
    listed: set[int] = set()
    if live is not None:
        for items in RecommendationList.objects.filter(version=live).values_list("items", flat=True):
            listed.update(int(item["product_id"]) for item in items if isinstance(item, dict))
    sellable_pks = {pk for pk, *_ in sellable}
    coverage = len(listed & sellable_pks) / len(sellable_pks) if sellable_pks else 0.0

    since = timezone.now().date() - dt.timedelta(days=days)
    impressions = dict(
        EventDailyRollup.objects.filter(day__gte=since, kind="impression")
        .values_list("product_external_id")
        .annotate(total=Sum("count"))
    )
    by_external = {
        external: (category or "(none)", vendor or "(none)", created)
        for _, external, category, vendor, created in sellable
    }
    shown_counts = [impressions.get(external, 0) for external in by_external]
    top10 = sum(sorted(shown_counts, reverse=True)[:10])
    total_shown = sum(shown_counts)

    def exposure(position: int) -> list[dict]:
        """Each group's share of the sellable catalogue next to its share of impressions."""
        catalogue = _shares(Counter(values[position] for values in by_external.values()))
        shown_by_group: Counter[str] = Counter()
        for external, values in by_external.items():
            shown_by_group[values[position]] += impressions.get(external, 0)
        shown = _shares(shown_by_group)
        rows = [
            {"group": group, "catalogue": share, "impressions": shown.get(group, 0.0)}
            for group, share in catalogue.items()
        ]
        return sorted(rows, key=lambda row: -row["catalogue"])[:12]

    cutoff = timezone.now() - dt.timedelta(days=new_product_days)
    new = [external for external, values in by_external.items() if values[2] and values[2] >= cutoff]
    return {
        "held": held,
        "requests": list(PrivacyRequest.objects.order_by("-received_at")[:50]),
        "coverage": coverage,
        "listed": len(listed & sellable_pks),
        "sellable": len(sellable_pks),
        "gini": _gini(shown_counts),
        "top10_share": top10 / total_shown if total_shown else 0.0,
        "impressions": total_shown,
        "by_category": exposure(0),
        "by_vendor": exposure(1),
        "new_products": len(new),
        "new_catalogue_share": len(new) / len(by_external) if by_external else 0.0,
        "new_impression_share": sum(impressions.get(e, 0) for e in new) / total_shown if total_shown else 0.0,
        "diversity": shop.settings.get(DIVERSITY_KEY, DIVERSITY_DEFAULT),
        "event_days": event_days,
        "max_event_days": settings.EVENT_RETENTION_DAYS,
        "purge_after_uninstall_hours": settings.SHOP_PURGE_AFTER_UNINSTALL_HOURS,
        "days": days,
    }


# -- Overview: progress of the sync and the training under way --------------------------------

SYNC_PHASES = {"products": "reading products", "orders": "reading orders", "done": "finishing"}


def _iso(moment: dt.datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _sync_progress(sync: SyncRun) -> dict:
    from integrations.models import SyncRun

    phase = str((sync.checkpoint or {}).get("phase", "products"))
    counts = f"{sync.products_synced:,} products and {sync.orders_synced:,} orders"
    kind = "full" if sync.kind == SyncRun.Kind.FULL else "changes only"
    if sync.status == SyncRun.Status.RUNNING:
        message = f"Sync running ({kind}): {SYNC_PHASES.get(phase, phase)}, {counts} so far."
    elif sync.status == SyncRun.Status.SUCCEEDED:
        message = f"Sync finished: {counts}."
    else:
        message = f"Sync stopped after {counts}: {sync.error or 'no reason recorded'}"
    return {
        "id": sync.pk,
        "kind": sync.kind,
        "status": sync.status,
        "phase": phase,
        "products_synced": sync.products_synced,
        "orders_synced": sync.orders_synced,
        "started_at": _iso(sync.started_at),
        "finished_at": _iso(sync.finished_at),
        "running": sync.status == SyncRun.Status.RUNNING,
        "message": message,
    }


def _training_progress(training: TrainingRun) -> dict:
    from recommendations.models import TrainingRun

    status = training.status
    if status == TrainingRun.Status.QUEUED:
        message = "Training queued: it starts when a worker is free."
    elif status == TrainingRun.Status.RUNNING:
        since = timezone.localtime(training.started_at, dt.UTC).strftime("%H:%M") if training.started_at else "now"
        message = f"Training running since {since} UTC."
    elif status == TrainingRun.Status.SUCCEEDED:
        message = f"Training finished: {training.decision or 'done'}."
    else:
        message = f"Training {training.get_status_display().lower()}: {training.error or 'no reason recorded'}"
    return {
        "id": training.pk,
        "status": status,
        "trigger": training.trigger,
        "created_at": _iso(training.created_at),
        "started_at": _iso(training.started_at),
        "finished_at": _iso(training.finished_at),
        "running": status in (TrainingRun.Status.QUEUED, TrainingRun.Status.RUNNING),
        "message": message,
    }


def dashboard_progress_get() -> dict:
    """The latest sync and training of the shop in scope, as the Overview polls them: `active`
    while either is under way, and one sentence to announce. JSON-ready. Two small reads and no
    row counts: it is asked every few seconds."""
    from integrations.models import SyncRun
    from recommendations.models import TrainingRun

    latest_sync = SyncRun.objects.order_by("-pk").first()
    latest_training = TrainingRun.objects.order_by("-pk").first()
    sync = _sync_progress(latest_sync) if latest_sync else None
    training = _training_progress(latest_training) if latest_training else None
    parts = [part for part in (sync, training) if part]
    running = [part for part in parts if part["running"]]
    return {
        "active": bool(running),
        "sync": sync,
        "training": training,
        "message": " ".join(part["message"] for part in (running or parts)) or "No sync or training yet.",
    }


# -- Insights: model quality of each training against its baselines ---------------------------

METRIC_NAMES = {"hit_rate": "hit rate", "ndcg": "NDCG", "precision": "precision", "recall": "recall"}
# Lists the merchant sees first come first.
QUALITY_KIND_ORDER = ("bought_together", "related", "personal")


@dataclass(frozen=True)
class WindowQuality:
    """One time window a training judged a list kind on (rolling origin, latest first): its
    days, its held-out cases, and the challenger's difference from the plain reference model on
    it with the 95% interval (None when too thin to judge or nothing was compared)."""

    start: str
    end: str | None
    cases: int
    judged: bool
    challenger: str | None = None
    against: str | None = None
    difference: tuple[float, float, float] | None = None


@dataclass(frozen=True)
class ListQuality:
    """One list kind of one training: the chosen model's held-out score next to the best
    baseline's (popularity), on the same orders."""

    kind: str
    label: str
    metric: str
    k: int | None
    evaluated: bool
    cases: int
    champion: str
    champion_value: float | None
    baseline: str | None
    baseline_value: float | None
    reason: str
    # Anchors (products) or customers there were, when the evaluation scored a sample of them.
    sampled_from: int = 0
    sample_size: int = 0
    # The 95% interval of the champion's difference from the best baseline (low, high), when the
    # training measured one.
    margin_interval: tuple[float, float] | None = None
    # The time windows it was judged on, latest first (trainings before rolling origin: none).
    windows: tuple[WindowQuality, ...] = ()

    @property
    def metric_label(self) -> str:
        name = METRIC_NAMES.get(self.metric, self.metric.replace("_", " "))
        return f"{name}@{self.k}" if self.k else name

    @property
    def margin(self) -> float | None:
        if self.champion_value is None or self.baseline_value is None:
            return None
        return self.champion_value - self.baseline_value

    @property
    def champion_is_baseline(self) -> bool:
        return self.champion == self.baseline


@dataclass(frozen=True)
class TrainingRunQuality:
    run: TrainingRun
    lists: list[ListQuality]


def _score(candidate: object, metric: str) -> float | None:
    value = candidate.get(metric) if isinstance(candidate, dict) else None
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _list_quality(kind: str, entry: dict) -> ListQuality | None:
    from recommendations.engine.evaluate import MAX_EVALUATION_ANCHORS, MAX_EVALUATION_USERS
    from recommendations.models import ListKind

    metric, candidates = entry.get("metric"), entry.get("candidates")
    if not isinstance(metric, str) or not isinstance(candidates, dict):
        return None
    champion = str(entry.get("champion", ""))
    baselines = [
        (score, name)
        for name, candidate in candidates.items()
        if isinstance(candidate, dict)
        and candidate.get("baseline")
        and (score := _score(candidate, metric)) is not None
    ]
    best_baseline = max(baselines, default=None)  # by score, ties to the name: the same answer every time
    cases = [candidate.get("cases") for candidate in candidates.values() if isinstance(candidate, dict)]
    populations = [candidate.get("population") for candidate in candidates.values() if isinstance(candidate, dict)]
    population = max((value for value in populations if isinstance(value, int)), default=0)
    limit = MAX_EVALUATION_USERS if kind == ListKind.PERSONAL else MAX_EVALUATION_ANCHORS
    k = entry.get("k")
    return ListQuality(
        kind=kind,
        label=dict(ListKind.choices).get(kind, kind),
        metric=metric,
        k=k if isinstance(k, int) else None,
        evaluated=bool(entry.get("evaluated")),
        cases=max((case for case in cases if isinstance(case, int)), default=0),
        champion=champion,
        champion_value=_score(candidates.get(champion), metric),
        baseline=best_baseline[1] if best_baseline else None,
        baseline_value=best_baseline[0] if best_baseline else None,
        reason=str(entry.get("reason", "")),
        sampled_from=population if population > limit else 0,
        sample_size=limit if population > limit else 0,
        margin_interval=_interval(candidates.get(champion), best_baseline[1] if best_baseline else None),
        windows=_windows(entry.get("windows")),
    )


def _windows(reported: object) -> tuple[WindowQuality, ...]:
    """The report's evaluation windows as the quality table shows them; malformed ones skipped."""
    windows = []
    for window in reported if isinstance(reported, list) else ():
        if not isinstance(window, dict) or not isinstance(window.get("from"), str):
            continue
        cases = window.get("cases")
        interval, compared = window.get("interval"), window.get("compared")
        numbers = isinstance(interval, list) and len(interval) == 3
        numbers = numbers and all(isinstance(x, (int, float)) for x in interval)
        pair = numbers and isinstance(compared, list) and len(compared) == 2
        names = [str(name) for name in compared] if pair else None
        windows.append(
            WindowQuality(
                start=window["from"][:10],
                end=window["to"][:10] if isinstance(window.get("to"), str) else None,
                cases=cases if isinstance(cases, int) else 0,
                judged=bool(window.get("judged")),
                challenger=names[0] if names else None,
                against=names[1] if names else None,
                difference=tuple(float(x) for x in interval) if names else None,
            )
        )
    return tuple(windows)


def _interval(candidate: object, against: str | None) -> tuple[float, float] | None:
    """(low, high) of the candidate's difference from `against`, as the training reported it."""
    intervals = candidate.get("intervals") if isinstance(candidate, dict) else None
    found = intervals.get(against) if isinstance(intervals, dict) and against else None
    if not isinstance(found, list) or len(found) != 3 or not all(isinstance(x, (int, float)) for x in found):
        return None
    return float(found[1]), float(found[2])


def training_run_quality_list(*, limit: int = 10) -> list[TrainingRunQuality]:
    """The shop's latest training runs, newest first, each with, per list kind, its champion's
    held-out score against the best baseline, read from the run's report. Runs that evaluated
    nothing (queued, failed, skipped) come with no lists. Runs in the shop's scope."""
    from recommendations.models import TrainingRun

    def position(kind: str) -> tuple[int, str]:
        return (QUALITY_KIND_ORDER.index(kind) if kind in QUALITY_KIND_ORDER else len(QUALITY_KIND_ORDER), kind)

    runs = []
    for run in TrainingRun.objects.order_by("-created_at", "-pk")[:limit]:
        evaluation = (run.report or {}).get("evaluation") if isinstance(run.report, dict) else None
        lists = []
        if isinstance(evaluation, dict):
            for kind in sorted(evaluation, key=position):
                entry = evaluation[kind]
                quality = _list_quality(kind, entry) if isinstance(entry, dict) else None
                if quality is not None:
                    lists.append(quality)
        runs.append(TrainingRunQuality(run=run, lists=lists))
    return runs


def dashboard_billing_get(*, shop: Shop) -> dict | None:
    """The Overview's Plan section: Shopify shops only (other platforms are not billed here)."""
    from django.conf import settings

    from shops.plans import PLANS, billing_enabled, shop_plan_get

    if shop.platform != Shop.Platform.SHOPIFY:
        return None
    if not billing_enabled():
        return {"billed": False}
    from integrations.models import AppSubscription

    pending = AppSubscription.objects.filter(status=AppSubscription.Status.PENDING).order_by("-pk").first()
    current = shop_plan_get(shop=shop)
    return {
        "billed": True,
        "plan": current,
        "plans": list(PLANS.values()),
        "pending": PLANS[pending.plan].name
        if pending and pending.plan in PLANS and pending.plan != current.handle
        else "",
        "test": bool(settings.SHOPIFY_BILLING_TEST),
    }
