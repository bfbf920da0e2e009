from __future__ import annotations

from urllib.parse import urljoin

from django.conf import settings
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render
from django.templatetags.static import static

from recommendations.selectors import widget_preview_product_get
from recommendations.services.widgets import (
    BLOCK_NAMES,
    BLOCKS,
    ITEMS_MAX,
    ITEMS_MIN,
    LAYOUTS,
    MIN_CONTRAST,
    TITLE_MAX,
    widget_settings_get,
    widget_settings_update,
)
from shops.dashboard.views.base import dashboard_page, field_errors, redirect_to
from shops.errors import ValidationFailed
from shops.models import Shop

# Personal picks need a shopper the platform signed in; the dashboard has none to preview with.
PREVIEWED_BLOCKS = ("related", "bought_together", "cart")


def _values_from_form(form: QueryDict) -> dict[str, object]:
    # An unticked checkbox is simply absent from the form: absent means off.
    return {
        "enabled": form.get("enabled") == "on",
        **{name: form.get(name, "") for name in ("title", "items", "layout", "accent", "text")},
    }


@dashboard_page(methods=("GET", "POST"))
def widgets(request: HttpRequest, shop: Shop) -> HttpResponse:
    saved = widget_settings_get(shop=shop)
    posted, submitted, errors, problem = "", {}, {}, ""
    if request.method == "POST":
        posted = request.POST.get("block", "")
        submitted = _values_from_form(request.POST)
        try:
            widget_settings_update(shop=shop, block=posted, values=submitted)
        except ValidationFailed as error:
            errors, problem = field_errors(error), error.message
        else:
            return redirect_to(request, "dashboard-widgets", saved=posted)
    blocks = [
        {
            "kind": kind,
            "name": BLOCK_NAMES[kind],
            "saved": saved[kind],
            # After a refused save the form shows what the merchant typed, next to what is wrong.
            "values": {**saved[kind], **submitted} if kind == posted else saved[kind],
            "errors": errors if kind == posted else {},
            "previewed": kind in PREVIEWED_BLOCKS,
        }
        for kind in BLOCKS
    ]
    context = {
        "shop": shop,
        "blocks": blocks,
        "layouts": LAYOUTS.items(),
        "limits": {"title_max": TITLE_MAX, "items_min": ITEMS_MIN, "items_max": ITEMS_MAX, "contrast": MIN_CONTRAST},
        "problem": problem,
        "saved_block": BLOCK_NAMES.get(request.GET.get("saved", "")) if request.method == "GET" else None,
        "sample": widget_preview_product_get(),
        **_placement_help(shop),
    }
    return render(request, "dashboard/widgets.html", context, status=400 if problem else 200)


def _placement_help(shop: Shop) -> dict:
    """What the merchant needs to put the blocks on their store, for the store's platform."""
    if shop.platform == Shop.Platform.SHOPIFY:
        from integrations.shopify.views import theme_editor_links

        return {"theme_links": theme_editor_links(shop.domain)}
    if shop.platform == Shop.Platform.WOOCOMMERCE:
        return {}
    return {
        "script_src": urljoin(settings.APP_URL + "/", static("basketry/widget.js")),
        "api_base": settings.APP_URL,
    }
