from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from shops.dashboard.selectors import dashboard_overview_get
from shops.dashboard.views.base import dashboard_page
from shops.models import Shop


@dashboard_page
def overview(request: HttpRequest, shop: Shop) -> HttpResponse:
    return render(request, "dashboard/overview.html", {"shop": shop, **dashboard_overview_get(shop=shop)})
