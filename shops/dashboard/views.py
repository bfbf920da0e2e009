"""The merchant dashboard (server-rendered). Every page shows the one shop the session was
opened for; there is no way to name another."""

from __future__ import annotations

import functools
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from shops.dashboard.access import SESSION_KEY, DashboardLinkInvalid, dashboard_link_redeem
from shops.dashboard.selectors import dashboard_overview_get, dashboard_privacy_fairness_get
from shops.models import Shop
from shops.tenancy import shop_scope


def _session_shop(request: HttpRequest) -> Shop | None:
    shop_id = request.session.get(SESSION_KEY)
    return Shop.objects.filter(pk=shop_id).first() if shop_id else None


def _signed_out(request: HttpRequest, message: str, status: int = 403) -> HttpResponse:
    return render(request, "dashboard/signed_out.html", {"message": message}, status=status)


@require_GET
def enter(request: HttpRequest) -> HttpResponse:
    """GET /dashboard/enter?token=...: redeem a signed link, then show the dashboard."""
    try:
        shop_id = dashboard_link_redeem(token=request.GET.get("token", ""))
    except DashboardLinkInvalid as error:
        return _signed_out(request, str(error))
    if not Shop.objects.filter(pk=shop_id).exists():
        return _signed_out(request, "This store is not connected to Basketry any more.")
    request.session.cycle_key()  # a fresh session id for the new privilege
    request.session[SESSION_KEY] = shop_id
    return HttpResponseRedirect(reverse("dashboard-overview"))


def dashboard_page(view: Callable[[HttpRequest, Shop], HttpResponse]) -> Callable[[HttpRequest], HttpResponse]:
    """A dashboard page: GET only, for the session's shop, inside its scope; no session, no page."""

    @require_GET
    @functools.wraps(view)
    def page(request: HttpRequest) -> HttpResponse:
        shop = _session_shop(request)
        if shop is None:
            return _signed_out(request, "Open the dashboard from your store's admin to sign in.")
        with shop_scope(shop):
            return view(request, shop)

    return page


@dashboard_page
def overview(request: HttpRequest, shop: Shop) -> HttpResponse:
    return render(request, "dashboard/overview.html", {"shop": shop, **dashboard_overview_get(shop=shop)})


@dashboard_page
def insights(request: HttpRequest, shop: Shop) -> HttpResponse:
    from recommendations.services.insights import insights_daily_get
    from shops.demo import DEMO_DOMAIN

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


@dashboard_page
def privacy(request: HttpRequest, shop: Shop) -> HttpResponse:
    return render(request, "dashboard/privacy.html", {"shop": shop, **dashboard_privacy_fairness_get(shop=shop)})
