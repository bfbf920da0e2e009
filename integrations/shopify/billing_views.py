"""The merchant's plan choice (Overview, POST /dashboard/billing) and Shopify's return from its
confirmation page (GET /shopify/billing/return)."""

from __future__ import annotations

import logging

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.http import require_GET

from integrations.shopify.billing import (
    billing_downgrade,
    billing_return_shop_id,
    billing_subscription_start,
    billing_subscriptions_reconcile,
    embedded_app_url,
)
from integrations.shopify.client import ShopifyApiError, ShopifyClient
from integrations.shopify.install import ShopifyReauthRequired
from shops.dashboard.views.base import dashboard_page, redirect_to
from shops.errors import ValidationFailed
from shops.models import Shop
from shops.tenancy import shop_scope

logger = logging.getLogger("basketry.billing")


@dashboard_page(methods=("POST",))
def billing_choose(request: HttpRequest, shop: Shop) -> HttpResponse:
    """A plan button on the Overview: a paid plan goes to Shopify's confirmation page (at the top
    level: it cannot be shown in Shopify admin's frame); Free cancels the subscription."""
    from shops.dashboard.views.overview import overview_render

    plan = request.POST.get("plan", "")
    try:
        with ShopifyClient(shop=shop) as client:
            if plan == "free":
                billing_downgrade(shop=shop, client=client)
                return redirect_to(request, "dashboard-overview")
            confirmation_url = billing_subscription_start(shop=shop, plan_handle=plan, client=client)
    except ValidationFailed as error:
        return overview_render(request, shop, billing_error=error.message, status=400)
    except (ShopifyApiError, ShopifyReauthRequired) as error:
        logger.warning("billing.shopify_failed shop=%s reason=%s", shop.pk, error)
        return overview_render(
            request, shop, billing_error="Shopify could not be reached to change the plan; try again.", status=502
        )
    if request.dashboard.carry:
        # Inside Shopify admin: App Bridge opens the page in the top window.
        return render(request, "dashboard/billing_redirect.html", {"shop": shop, "url": confirmation_url})
    return HttpResponseRedirect(confirmation_url)


@require_GET
def billing_return(request: HttpRequest) -> HttpResponse:
    """Where Shopify sends the merchant after approving or declining. The shop comes from our own
    signature on the return URL; its subscriptions are read from Shopify (the query's `charge_id`
    is not trusted), then the merchant goes back to the app in Shopify admin."""
    try:
        shop_id = billing_return_shop_id(state=request.GET.get("state", ""))
    except ValidationFailed as error:
        return render(request, "dashboard/signed_out.html", {"message": error.message}, status=400)
    shop = Shop.objects.filter(pk=shop_id, platform=Shop.Platform.SHOPIFY, status=Shop.Status.INSTALLED).first()
    if shop is None:
        return render(
            request, "dashboard/signed_out.html", {"message": "This store has not installed Basketry."}, status=404
        )
    try:
        with shop_scope(shop), ShopifyClient(shop=shop) as client:
            billing_subscriptions_reconcile(shop=shop, client=client)
    except (ShopifyApiError, ShopifyReauthRequired) as error:
        # The webhook and the periodic reconciliation settle the plan later; the merchant goes on.
        logger.warning("billing.return_reconcile_failed shop=%s reason=%s", shop.pk, error)
    return HttpResponseRedirect(embedded_app_url(shop=shop))
