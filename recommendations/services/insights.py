"""Daily order aggregates for the insights: attributed orders and revenue per shop and day."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from decimal import Decimal

from django.db.models import Count, DecimalField, ExpressionWrapper, F, Sum

from recommendations.models import OrderDailyRollup
from shops.models import Order, OrderLine, Shop

# Orders arrive late (syncs, webhooks); the last days are counted again each night.
RECOUNT_DAYS = 3


def _bounds(shop: Shop, day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    zone = zoneinfo.ZoneInfo(shop.timezone or "UTC")
    start = dt.datetime.combine(day, dt.time.min, tzinfo=zone)
    return start, start + dt.timedelta(days=1)


def orders_roll_up(*, shop: Shop, day: dt.date) -> OrderDailyRollup:
    """Count one local day of the shop's paid orders; safe to run again. Runs in the shop's scope."""
    start, end = _bounds(shop, day)
    paid = Order.objects.filter(status=Order.Status.PAID, created_at__gte=start, created_at__lt=end)
    widget_lines = OrderLine.objects.filter(order__in=paid).exclude(source_block="")
    widget_orders = paid.filter(pk__in=widget_lines.values("order_id"))
    totals = paid.aggregate(orders=Count("pk"), revenue=Sum("total"))
    widget = widget_orders.aggregate(orders=Count("pk"), revenue=Sum("total"))
    line_value = ExpressionWrapper(
        F("quantity") * F("unit_price"), output_field=DecimalField(max_digits=16, decimal_places=4)
    )
    attributed = widget_lines.aggregate(value=Sum(line_value))["value"]
    rollup, _ = OrderDailyRollup.objects.update_or_create(
        shop=shop,
        day=day,
        defaults={
            "orders": totals["orders"],
            "revenue": totals["revenue"] or Decimal(0),
            "widget_orders": widget["orders"],
            "widget_orders_revenue": widget["revenue"] or Decimal(0),
            "attributed_revenue": attributed or Decimal(0),
        },
    )
    return rollup


def orders_roll_up_recent(*, shop: Shop, today: dt.date | None = None) -> int:
    """Recount the shop's last RECOUNT_DAYS finished local days."""
    today = today or dt.datetime.now(zoneinfo.ZoneInfo(shop.timezone or "UTC")).date()
    for back in range(1, RECOUNT_DAYS + 1):
        orders_roll_up(shop=shop, day=today - dt.timedelta(days=back))
    return RECOUNT_DAYS


def insights_daily_get(*, shop: Shop, days: int = 30, today: dt.date | None = None) -> list[dict]:
    """One row per day, newest first: widget events next to orders, from the rollups only."""
    from recommendations.models import EventDailyRollup

    today = today or dt.datetime.now(zoneinfo.ZoneInfo(shop.timezone or "UTC")).date()
    since = today - dt.timedelta(days=days)
    events: dict[dt.date, dict[str, int]] = {}
    for day, kind, total in (
        EventDailyRollup.objects.filter(day__gte=since).values_list("day", "kind").annotate(total=Sum("count"))
    ):
        events.setdefault(day, {})[kind] = total
    orders = {row.day: row for row in OrderDailyRollup.objects.filter(day__gte=since)}
    rows = []
    for offset in range(1, days + 1):
        day = today - dt.timedelta(days=offset)
        seen = events.get(day, {})
        order = orders.get(day)
        impressions, clicks = seen.get("impression", 0), seen.get("click", 0)
        other_orders = (order.orders - order.widget_orders) if order else 0
        rows.append(
            {
                "day": day,
                "impressions": impressions,
                "clicks": clicks,
                "ctr": clicks / impressions if impressions else None,
                "adds": seen.get("add_to_cart", 0),
                "orders": order.orders if order else 0,
                "widget_orders": order.widget_orders if order else 0,
                "revenue": order.revenue if order else Decimal(0),
                "attributed_revenue": order.attributed_revenue if order else Decimal(0),
                "aov_with": order.widget_orders_revenue / order.widget_orders
                if order and order.widget_orders
                else None,
                "aov_without": (order.revenue - order.widget_orders_revenue) / other_orders if other_orders else None,
            }
        )
    return rows
