"""How a merchant gets into the dashboard outside Shopify admin: a short-lived signed link.

The WordPress plugin asks for one (signed with its key) and opens it in a new tab; `make demo`
prints one for the demo shop. Redeeming the link puts the shop in the session, on Basketry's own
domain, so the cookie is first-party.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings
from django.core import signing
from django.http import HttpRequest, HttpResponse
from django.urls import reverse

from shops.models import Shop

SALT = "dashboard-link"
SESSION_KEY = "dashboard_shop_id"
# A link the plugin opens at once; the demo's printed link must outlive a coffee.
PLUGIN_LINK_SECONDS = 120
DEMO_LINK_SECONDS = 12 * 3600


class DashboardLinkInvalid(Exception):
    """Tampered, expired or for no shop."""


def dashboard_link_create(*, shop_id: int, lifetime: int = PLUGIN_LINK_SECONDS) -> str:
    token = signing.dumps({"shop": shop_id, "ttl": lifetime}, salt=SALT)
    return f"{settings.APP_URL}{reverse('dashboard-enter')}?token={token}"


def dashboard_link_redeem(*, token: str) -> int:
    """The shop id a valid link names; raises DashboardLinkInvalid."""
    try:
        claims = signing.loads(token, salt=SALT)  # the signature; the age is checked next
        lifetime = min(int(claims["ttl"]), DEMO_LINK_SECONDS)
        signing.loads(token, salt=SALT, max_age=lifetime)
        return int(claims["shop"])
    except signing.SignatureExpired as error:
        raise DashboardLinkInvalid("This link has expired: open the dashboard again from your store.") from error
    except (signing.BadSignature, KeyError, TypeError, ValueError) as error:
        raise DashboardLinkInvalid("This link is not valid.") from error


@dataclass
class DashboardPrincipal:
    """Who a dashboard request acts for: one shop, or a response to send instead (the Shopify
    ID-token bounce page, a 401)."""

    shop: Shop | None = None
    via_session: bool = False
    # Query parameters every link and form of an embedded page carries (Shopify's shop and host).
    carry: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    response: HttpResponse | None = None


def _embedded(request: HttpRequest) -> bool:
    return bool(
        request.GET.get("embedded") == "1"
        or request.GET.get("id_token")
        or request.headers.get("Authorization", "").startswith("Bearer ")
    )


def dashboard_principal_from_request(request: HttpRequest) -> DashboardPrincipal:
    """The shop a dashboard request is for: from a verified Shopify ID token when the page runs
    embedded in Shopify admin, else from the session a signed link opened. Never from a
    parameter alone: an embedded request without a valid token is sent to App Bridge's bounce
    page to fetch one, and nothing of the shop is shown."""
    if _embedded(request):
        return _principal_from_id_token(request)
    shop_id = request.session.get(SESSION_KEY)
    shop = Shop.objects.filter(pk=shop_id).first() if shop_id else None
    return DashboardPrincipal(shop=shop, via_session=shop is not None)


def _principal_from_id_token(request: HttpRequest) -> DashboardPrincipal:
    from integrations.shopify.auth import app_home_request_verify

    verification = app_home_request_verify(
        method="GET", url=request.build_absolute_uri(), headers=dict(request.headers.items())
    )
    if verification.id_token is None:
        response = HttpResponse(status=verification.status)
        for header, value in verification.headers.items():
            response[header] = value
        return DashboardPrincipal(response=response)
    domain = verification.id_token.domain
    shop = Shop.objects.filter(platform=Shop.Platform.SHOPIFY, domain=domain, status=Shop.Status.INSTALLED).first()
    if shop is None:
        return DashboardPrincipal(response=HttpResponse("This store has not installed Basketry.", status=404))
    return embedded_principal(shop=shop, host=request.GET.get("host", ""))


def embedded_principal(*, shop: Shop, host: str) -> DashboardPrincipal:
    """A request verified by a Shopify ID token for this shop, inside Shopify admin's frame."""
    carry = {"embedded": "1", "shop": shop.domain}
    if host:
        carry["host"] = host[:255]
    return DashboardPrincipal(
        shop=shop,
        carry=carry,
        headers={"Content-Security-Policy": f"frame-ancestors https://{shop.domain} https://admin.shopify.com;"},
    )
