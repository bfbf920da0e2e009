"""What every dashboard page shares: who is asking (a signed-link session or, inside Shopify
admin, a Shopify ID token), the shop scope, CSRF, and the form-error convention."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET

from shops.dashboard.access import (
    SESSION_KEY,
    DashboardLinkInvalid,
    DashboardPrincipal,
    dashboard_link_redeem,
    dashboard_principal_from_request,
)
from shops.models import Shop
from shops.tenancy import shop_scope


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


def page_url(request: HttpRequest, name: str, *args, **query) -> str:
    """A dashboard URL that keeps the embedded app's parameters (Shopify admin), if any."""
    principal: DashboardPrincipal = request.dashboard
    params = {**principal.carry, **{key: value for key, value in query.items() if value not in (None, "")}}
    return reverse(name, args=args) + ("?" + urlencode(params) if params else "")


def redirect_to(request: HttpRequest, name: str, *args, **query) -> HttpResponse:
    """After a successful POST: back to a page (post/redirect/get)."""
    return HttpResponseRedirect(page_url(request, name, *args, **query))


def dashboard_page(
    view: Callable[..., HttpResponse] | None = None, *, methods: Iterable[str] = ("GET",)
) -> Callable[[HttpRequest], HttpResponse]:
    """A dashboard page for the one shop the request is authenticated for, inside its scope.

    A session opened by a signed link is checked for CSRF on writes; a request carrying a Shopify
    ID token needs no cookie at all (that is what makes the embedded app work in a private window),
    and the token itself, signed by Shopify and valid for a minute, is what a forger cannot supply.
    """
    allowed = tuple(method.upper() for method in methods)

    def decorate(inner: Callable[..., HttpResponse]) -> Callable[[HttpRequest], HttpResponse]:
        @csrf_exempt
        @functools.wraps(inner)
        def page(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if request.method not in allowed:
                response = HttpResponse(status=405)
                response["Allow"] = ", ".join(allowed)
                return response
            principal = dashboard_principal_from_request(request)
            if principal.response is not None:
                return principal.response
            if principal.shop is None:
                return _signed_out(request, "Open the dashboard from your store's admin to sign in.")
            request.dashboard = principal

            def scoped(request: HttpRequest) -> HttpResponse:
                with shop_scope(principal.shop):
                    response = inner(request, principal.shop, *args, **kwargs)
                for header, value in principal.headers.items():
                    response[header] = value
                if principal.carry:
                    response.xframe_options_exempt = True  # framed by Shopify admin; CSP names who may
                return response

            if principal.via_session and request.method != "GET":
                return csrf_protect(scoped)(request)
            return scoped(request)

        return page

    return decorate(view) if view is not None else decorate


def field_errors(error) -> dict[str, str]:
    """The per-field messages a service's ValidationFailed carries, for inline form errors."""
    return dict(error.extra.get("fields", {})) if getattr(error, "extra", None) else {}


def whole_number(raw: str | None) -> int | str:
    """A form field as an integer when the text is one; otherwise the text itself, for the
    service to refuse with its own message (one wording for every entry point)."""
    text = (raw or "").strip()
    try:
        return int(text)
    except ValueError:
        return text
