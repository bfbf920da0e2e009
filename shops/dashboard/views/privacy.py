from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from shops.dashboard.selectors import dashboard_privacy_fairness_get
from shops.dashboard.views.base import dashboard_page
from shops.models import Shop


@dashboard_page
def privacy(request: HttpRequest, shop: Shop) -> HttpResponse:
    return render(request, "dashboard/privacy.html", {"shop": shop, **dashboard_privacy_fairness_get(shop=shop)})
