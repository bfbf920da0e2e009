"""How a merchant gets into the dashboard outside Shopify admin: a short-lived signed link.

The WordPress plugin asks for one (signed with its key) and opens it in a new tab; `make demo`
prints one for the demo shop. Redeeming the link puts the shop in the session, on Basketry's own
domain, so the cookie is first-party.
"""

from __future__ import annotations

from django.conf import settings
from django.core import signing
from django.urls import reverse

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
