from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from shops.dashboard.selectors import dashboard_billing_get, dashboard_overview_get, dashboard_progress_get
from shops.dashboard.views.base import dashboard_page
from shops.models import Shop

# How often the Overview asks while a sync or training runs: fresh enough to watch, a handful of
# indexed reads per shop every few seconds.
PROGRESS_POLL_MILLISECONDS = 4000


def overview_render(
    request: HttpRequest, shop: Shop, *, welcome: str = "", billing_error: str = "", status: int = 200
) -> HttpResponse:
    """The Overview of the shop in scope; also what Shopify admin opens as the app's home."""
    return render(
        request,
        "dashboard/overview.html",
        {
            "shop": shop,
            **dashboard_overview_get(shop=shop),
            "progress": dashboard_progress_get(),
            "poll_milliseconds": PROGRESS_POLL_MILLISECONDS,
            "welcome": welcome,
            "theme_links": _theme_links(shop),
            "customer_access": _customer_access(shop),
            "billing": dashboard_billing_get(shop=shop),
            "billing_error": billing_error,
        },
        status=status,
    )


def _theme_links(shop: Shop) -> list[tuple[str, str]]:
    """Onboarding on Shopify: each link opens the theme editor with a Basketry block being added."""
    if shop.platform != Shop.Platform.SHOPIFY:
        return []
    from integrations.shopify.views import theme_editor_links

    return theme_editor_links(shop.domain)


def _customer_access(shop: Shop) -> str:
    """Why orders come without customers (Shopify's read_customers not granted), or nothing."""
    if shop.platform != Shop.Platform.SHOPIFY:
        return ""
    from integrations.shopify.install import customer_access_note

    return customer_access_note(shop)


@dashboard_page
def overview(request: HttpRequest, shop: Shop) -> HttpResponse:
    return overview_render(request, shop)


@dashboard_page
def progress(request: HttpRequest, shop: Shop) -> HttpResponse:
    """GET /dashboard/progress: the latest sync's and training's state, for the Overview to poll."""
    response = JsonResponse(dashboard_progress_get())
    response["Cache-Control"] = "no-store"
    return response
