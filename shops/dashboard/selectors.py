"""Reads behind the dashboard pages. Run inside the shop's scope."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Sum
from django.utils import timezone

from shops.models import Shop


@dataclass(frozen=True)
class Kpi:
    label: str
    value: str
    detail: str


def dashboard_overview_get(*, shop: Shop, days: int = 30) -> dict:
    """Connection and sync, data readiness, the last training and what it chose, and KPIs of
    the last `days` days from the daily rollups (never the raw events)."""
    from integrations.models import SyncRun
    from recommendations.models import DataProfile, EventDailyRollup, ListKind, ModelVersion, TrainingRun
    from recommendations.selectors import data_readiness_summary

    sync = SyncRun.objects.order_by("-pk").first()
    profile = DataProfile.objects.first()
    training = TrainingRun.objects.order_by("-pk").first()
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
