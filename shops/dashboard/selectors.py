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
    from recommendations.models import DataProfile, EventDailyRollup, ListKind, ModelVersion
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
    from recommendations.models import EventDailyRollup, ModelVersion, RecommendationList, ShopperEvent
    from recommendations.services.settings import DIVERSITY_DEFAULT, DIVERSITY_KEY
    from shops.models import Order, OrderLine, Product

    held = [
        ("Products", Product.objects.count(), "as long as the store is connected"),
        ("Orders (baskets)", Order.objects.count(), "as long as the store is connected"),
        ("Order lines", OrderLine.objects.count(), "as long as the store is connected"),
        (
            "Customers, as keyed pseudonyms only",
            Order.objects.exclude(customer_ref=None).values("customer_ref").distinct().count(),
            "until a redact request or uninstall",
        ),
        ("Raw widget events (no shopper data)", ShopperEvent.objects.count(), f"{settings.EVENT_RETENTION_DAYS} days"),
        ("Webhook deliveries", WebhookDelivery.objects.count(), f"{settings.WEBHOOK_RETENTION_DAYS} days"),
    ]
    sellable = list(
        Product.objects.filter(status=Product.Status.PUBLISHED, in_stock=True).values_list(
            "pk", "external_id", "category", "vendor", "created_at"
        )
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
        "days": days,
    }
