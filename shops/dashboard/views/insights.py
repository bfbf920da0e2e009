from __future__ import annotations

from decimal import Decimal

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.safestring import mark_safe

from recommendations.services.insights import insights_daily_get
from shops.dashboard.charts import Series, line_chart_svg
from shops.dashboard.selectors import training_run_quality_list
from shops.dashboard.views.base import dashboard_page
from shops.demo import DEMO_DOMAIN
from shops.models import Shop

PERIOD_DAYS = (7, 30, 90)
DEFAULT_PERIOD_DAYS = 30
PERIOD_ERROR = "Choose a period of 7, 30 or 90 days."
RECENT_TRAININGS = 10


def _period_days(raw: str | None) -> int | None:
    """The chosen period; None for anything but one of PERIOD_DAYS (no parameter: the default)."""
    if raw is None or raw == "":
        return DEFAULT_PERIOD_DAYS
    return int(raw) if raw in {str(days) for days in PERIOD_DAYS} else None


def _average(values: list[tuple[Decimal | None, int]]) -> Decimal | None:
    """The period's average order value from each day's average and its number of orders."""
    orders = sum(count for value, count in values if value is not None)
    if not orders:
        return None
    return sum((value * count for value, count in values if value is not None), Decimal(0)) / orders


def _charts(rows: list[dict], *, currency: str, days: int) -> list[dict]:
    """The four charts of the period, oldest day first; rows come newest first."""
    chronological = list(reversed(rows))
    labels = [f"{row['day'].day} {row['day']:%b}" for row in chronological]

    def values(key: str) -> list[float | None]:
        return [None if row[key] is None else float(row[key]) for row in chronological]

    def total(key: str) -> Decimal | int:
        return sum((row[key] for row in rows), Decimal(0) if key.endswith("revenue") else 0)

    busiest = max(rows, key=lambda row: row["impressions"], default=None)
    busiest_text = (
        f"; the most on {busiest['day']:%Y-%m-%d} ({busiest['impressions']:,})"
        if busiest and busiest["impressions"]
        else ""
    )
    revenue, attributed = total("revenue"), total("attributed_revenue")
    share = f" ({attributed / revenue:.1%} of it)" if revenue else ""
    with_block = _average([(row["aov_with"], row["widget_orders"]) for row in rows])
    without = _average([(row["aov_without"], row["orders"] - row["widget_orders"]) for row in rows])

    def money(value: Decimal | None) -> str:
        return f"{value:,.2f} {currency}" if value is not None else "no orders"

    specs = [
        (
            "impressions",
            "Impressions per day",
            f"{total('impressions'):,} impressions of Basketry blocks over the last {days} days{busiest_text}.",
            [Series("Impressions", values("impressions"))],
            True,
        ),
        (
            "engagement",
            "Clicks and add-to-carts per day",
            f"{total('clicks'):,} clicks and {total('adds'):,} products added to the cart from a block "
            f"over the last {days} days.",
            [Series("Clicks", values("clicks")), Series("Added to cart", values("adds"))],
            True,
        ),
        (
            "revenue",
            f"Revenue per day, attributed and total ({currency})",
            f"{money(revenue)} from paid orders over the last {days} days, {money(attributed)} of it "
            f"attributed to Basketry blocks{share}.",
            [Series("All paid orders", values("revenue")), Series("Attributed", values("attributed_revenue"))],
            False,
        ),
        (
            "order-value",
            f"Average order value with and without a block item ({currency})",
            f"Over the last {days} days, orders with an item added from a block averaged {money(with_block)}, "
            f"orders without one {money(without)}. Days without such orders are left blank.",
            [Series("With a block item", values("aov_with")), Series("Without", values("aov_without"))],
            False,
        ),
    ]
    return [
        {
            "id": f"chart-{key}",
            "title": title,
            # Safe: the chart builder escapes every text it writes (see shops/dashboard/charts.py).
            "svg": mark_safe(
                line_chart_svg(
                    chart_id=f"chart-{key}",
                    title=title,
                    summary=summary,
                    labels=labels,
                    series=series,
                    whole_numbers=whole_numbers,
                )
            ),
        }
        for key, title, summary, series, whole_numbers in specs
    ]


@dashboard_page
def insights(request: HttpRequest, shop: Shop) -> HttpResponse:
    days = _period_days(request.GET.get("days"))
    context = {"shop": shop, "periods": PERIOD_DAYS, "simulated": shop.domain == DEMO_DOMAIN}
    if days is None:
        # A period the selector never offers: say so rather than show a period nobody asked for.
        context.update(days=DEFAULT_PERIOD_DAYS, errors={"days": PERIOD_ERROR})
        return render(request, "dashboard/insights.html", context, status=400)
    rows = insights_daily_get(shop=shop, days=days)
    totals = {
        key: sum(row[key] for row in rows)
        for key in ("impressions", "clicks", "adds", "orders", "widget_orders", "revenue", "attributed_revenue")
    }
    context.update(
        days=days,
        errors={},
        rows=rows,
        totals=totals,
        charts=_charts(rows, currency=shop.currency, days=days),
        quality=training_run_quality_list(limit=RECENT_TRAININGS),
    )
    return render(request, "dashboard/insights.html", context)
