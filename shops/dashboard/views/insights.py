from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from recommendations.services.insights import insights_daily_get
from shops.dashboard.views.base import dashboard_page
from shops.demo import DEMO_DOMAIN
from shops.models import Shop


@dashboard_page
def insights(request: HttpRequest, shop: Shop) -> HttpResponse:
    rows = insights_daily_get(shop=shop)
    totals = {
        key: sum(row[key] for row in rows)
        for key in ("impressions", "clicks", "adds", "orders", "widget_orders", "attributed_revenue")
    }
    return render(
        request,
        "dashboard/insights.html",
        {"shop": shop, "rows": rows, "totals": totals, "simulated": shop.domain == DEMO_DOMAIN},
    )
