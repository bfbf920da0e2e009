"""Installing a shop and keeping its offline access token fresh.

Embedded installs exchange the App Bridge ID token for an expiring offline token (one hour, plus a
refresh token that rotates on every use). Credentials live encrypted in `Shop.credentials`:

    {"access_token", "expires_at", "refresh_token", "refresh_expires_at", "scope", "admin_api_base_url"}

Refreshes are serialised per shop with a row lock on the shop: refresh tokens rotate, so two
workers refreshing at once would make one of them use a retired token.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from integrations.shopify.auth import IdToken, app_config, shop_domain_valid
from integrations.shopify.http import admin_http_client
from shops.errors import ValidationFailed
from shops.models import Shop

logger = logging.getLogger("basketry.shopify")


class ShopifyReauthRequired(Exception):
    """The shop's tokens are gone or refused: the merchant must open the app again (token exchange)."""


class ShopifyAuthError(Exception):
    """Shopify refused an exchange for a reason other than a dead refresh token."""


def admin_api_base_url(*, domain: str, credentials: dict | None = None) -> str:
    """Where this shop's Admin API lives when it is not `https://{domain}` (development, tests)."""
    if credentials and credentials.get("admin_api_base_url"):
        return credentials["admin_api_base_url"]
    template = settings.SHOPIFY_ADMIN_API_BASE_URL
    return template.replace("{shop}", domain) if template else ""


def _expiry(value: str | None) -> str:
    return value or ""


def _credentials_from(token, *, previous: dict) -> dict:
    credentials = {
        **previous,
        "access_token": token.token,
        "expires_at": _expiry(token.expires),
        "refresh_token": token.refresh_token or "",
        "refresh_expires_at": _expiry(token.refresh_token_expires),
        "scope": token.scope,
    }
    credentials.pop("reauth_reason", None)
    return credentials


@transaction.atomic
def _shop_install(*, domain: str, token, base_url: str = "") -> tuple[Shop, bool]:
    """Create the shop or restore it (a reinstall after an uninstall), storing the new tokens."""
    shop = Shop.objects.select_for_update().filter(platform=Shop.Platform.SHOPIFY, domain=domain).first()
    fresh = shop is None
    if fresh:
        shop = Shop(platform=Shop.Platform.SHOPIFY, domain=domain, name=domain, installed_at=timezone.now())
    reinstalled = not fresh and shop.status == Shop.Status.UNINSTALLED
    previous = dict(shop.credentials or {})
    if base_url:
        previous["admin_api_base_url"] = base_url
    shop.credentials = _credentials_from(token, previous=previous)
    if reinstalled:
        shop.installed_at = timezone.now()
    shop.status = Shop.Status.INSTALLED
    shop.uninstalled_at = None
    shop.save()
    from recommendations.storefront.cache import storefront_invalidate

    transaction.on_commit(lambda: storefront_invalidate(domain=domain))
    return shop, fresh or reinstalled


def shopify_install_from_id_token(*, id_token: IdToken) -> tuple[Shop, bool]:
    """Token exchange for an embedded App Home load. Returns (shop, newly installed)."""
    from shopify_app import token_exchange

    existing = Shop.objects.filter(platform=Shop.Platform.SHOPIFY, domain=id_token.domain).first()
    if existing and existing.status == Shop.Status.INSTALLED and existing.credentials.get("access_token"):
        return existing, False
    base_url = admin_api_base_url(domain=id_token.domain, credentials=existing.credentials if existing else None)
    with admin_http_client(base_url=base_url) as client:
        result = token_exchange(
            "offline",
            app_config(),
            {"exchangeable": True, "token": id_token.raw, "claims": id_token.claims},
            expiring=True,
            http_client=client,
        )
    if not result.ok or result.access_token is None:
        raise ShopifyAuthError(f"token exchange refused: {result.log.code}")
    shop, installed = _shop_install(domain=id_token.domain, token=result.access_token, base_url=base_url)
    if installed:
        _initial_sync_queue(shop)
    return shop, installed


def shopify_install_from_code(*, domain: str, code: str) -> tuple[Shop, bool]:
    """The authorization-code grant (non-embedded installs): swap the code for an expiring offline token."""
    import httpx
    from shopify_app.types import TokenExchangeAccessToken

    if not shop_domain_valid(domain):
        raise ValidationFailed(f"{domain!r} is not a myshopify.com domain.")
    base_url = admin_api_base_url(domain=domain)
    body = {
        "client_id": settings.SHOPIFY_API_KEY,
        "client_secret": settings.SHOPIFY_API_SECRET,
        "code": code,
        "expiring": "1",
    }
    try:
        with admin_http_client(base_url=base_url) as client:
            response = client.post(f"https://{domain}/admin/oauth/access_token", json=body)
    except httpx.HTTPError as error:
        raise ShopifyAuthError(f"code exchange failed: {error}") from error
    if response.status_code != 200:
        raise ShopifyAuthError(f"code exchange refused ({response.status_code})")
    data = response.json()
    now = timezone.now()
    token = TokenExchangeAccessToken(
        shop=domain.removesuffix(".myshopify.com"),
        token=data["access_token"],
        expires=(now + dt.timedelta(seconds=int(data["expires_in"]))).isoformat() if data.get("expires_in") else None,
        scope=data.get("scope", ""),
        access_mode="offline",
        refresh_token=data.get("refresh_token"),
        refresh_token_expires=(now + dt.timedelta(seconds=int(data["refresh_token_expires_in"]))).isoformat()
        if data.get("refresh_token_expires_in")
        else None,
        user=None,
    )
    shop, installed = _shop_install(domain=domain, token=token, base_url=base_url)
    if installed:
        _initial_sync_queue(shop)
    return shop, installed


def shopify_connect_with_token(*, domain: str, access_token: str, admin_api_base_url: str = "") -> Shop:
    """Development: connect a store with an Admin API token made by hand (a custom app's token)."""
    from shopify_app.types import TokenExchangeAccessToken

    if not shop_domain_valid(domain):
        raise ValidationFailed(f"{domain!r} is not a myshopify.com domain.")
    token = TokenExchangeAccessToken(
        shop=domain.removesuffix(".myshopify.com"),
        token=access_token,
        expires=None,
        scope="",
        access_mode="offline",
        refresh_token=None,
        refresh_token_expires=None,
        user=None,
    )
    shop, _ = _shop_install(domain=domain, token=token, base_url=admin_api_base_url)
    return shop


def _initial_sync_queue(shop: Shop) -> None:
    from integrations.tasks import sync_run

    shop_id = shop.pk
    transaction.on_commit(lambda: sync_run.delay(shop_id, "full"))


def _parse(value: str) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def _needs_refresh(credentials: dict) -> bool:
    expires_at = _parse(credentials.get("expires_at", ""))
    if expires_at is None:
        return False
    margin = dt.timedelta(seconds=settings.SHOPIFY_TOKEN_REFRESH_MARGIN_SECONDS)
    return expires_at - margin <= timezone.now()


def shopify_access_token_get(*, shop: Shop, force_refresh: bool = False) -> str:
    """A usable access token for the shop, refreshed first when it is about to expire."""
    credentials = shop.credentials or {}
    if shop.status != Shop.Status.INSTALLED or not credentials.get("access_token"):
        raise ShopifyReauthRequired(f"{shop.domain} has no access token")
    if not force_refresh and not _needs_refresh(credentials):
        return credentials["access_token"]
    return _refresh(shop=shop, stale_token=credentials["access_token"])


def _refresh(*, shop: Shop, stale_token: str) -> str:
    from shopify_app import refresh_access_token

    with transaction.atomic():
        locked = Shop.objects.select_for_update().get(pk=shop.pk)
        credentials = dict(locked.credentials or {})
        if credentials.get("access_token") != stale_token and not _needs_refresh(credentials):
            # Another worker refreshed while this one waited for the lock.
            shop.credentials = credentials
            return credentials["access_token"]
        if not credentials.get("refresh_token"):
            raise ShopifyReauthRequired(f"{shop.domain}: the access token expired and there is no refresh token")
        with admin_http_client(base_url=admin_api_base_url(domain=shop.domain, credentials=credentials)) as client:
            result = refresh_access_token(
                {
                    "shop": shop.domain.removesuffix(".myshopify.com"),
                    "refresh_token": credentials["refresh_token"],
                    # Empty: refresh now, whatever the library would judge from the expiry.
                    "expires": "",
                    "refresh_token_expires": credentials.get("refresh_expires_at", ""),
                    "access_mode": "offline",
                },
                app_config(),
                http_client=client,
            )
        if result.ok and result.access_token is not None:
            locked.credentials = _credentials_from(result.access_token, previous=credentials)
            locked.save(update_fields=["credentials", "updated_at"])
            shop.credentials = locked.credentials
            logger.info("shopify.token_refreshed shop=%s", shop.pk)
            return locked.credentials["access_token"]
        code = result.log.code
    if code in ("invalid_grant", "refresh_token_expired", "invalid_client"):
        _reauth_mark(shop=shop, reason=code)
        raise ShopifyReauthRequired(f"{shop.domain}: refresh refused ({code}); the merchant must open the app again")
    raise ShopifyAuthError(f"{shop.domain}: refresh failed ({code})")


def _reauth_mark(*, shop: Shop, reason: str) -> None:
    """Drop the dead tokens so nothing keeps trying them; the next App Home load exchanges anew."""
    with transaction.atomic():
        locked = Shop.objects.select_for_update().get(pk=shop.pk)
        credentials = {
            key: value
            for key, value in (locked.credentials or {}).items()
            if key not in ("access_token", "expires_at", "refresh_token", "refresh_expires_at")
        }
        credentials["reauth_reason"] = reason
        locked.credentials = credentials
        locked.save(update_fields=["credentials", "updated_at"])
    shop.credentials = credentials


# --- customer access -------------------------------------------------------------------------

CUSTOMERS_DENIED = "customers_denied"


def customer_access_record(*, shop: Shop, denied: bool) -> None:
    """Remember whether Shopify refused customer ids on the last try, for the Overview; written
    only when that changes."""
    if bool((shop.credentials or {}).get(CUSTOMERS_DENIED)) == denied:
        return
    with transaction.atomic():
        locked = Shop.objects.select_for_update().get(pk=shop.pk)
        credentials = dict(locked.credentials or {})
        if denied:
            credentials[CUSTOMERS_DENIED] = True
        else:
            credentials.pop(CUSTOMERS_DENIED, None)
        locked.credentials = credentials
        locked.save(update_fields=["credentials", "updated_at"])
    shop.credentials = credentials


def customers_readable(shop: Shop) -> bool:
    """Whether orders are read with their customer: read_customers granted and not refused."""
    from integrations.shopify.queries import customers_granted

    credentials = shop.credentials or {}
    return customers_granted(credentials.get("scope")) and not credentials.get(CUSTOMERS_DENIED)


def customer_access_note(shop: Shop) -> str:
    """Why orders come without customers, in the merchant's words; empty when they do not."""
    if shop.platform != Shop.Platform.SHOPIFY or shop.status != Shop.Status.INSTALLED:
        return ""
    credentials = shop.credentials or {}
    from integrations.shopify.queries import customers_granted

    if not customers_granted(credentials.get("scope")):
        why = "Basketry has not been granted access to customers (read_customers)"
    elif credentials.get(CUSTOMERS_DENIED):
        why = "Shopify refused Basketry access to customers: the app's protected customer data access is not approved"
    else:
        return ""
    return (
        f"{why}, so orders are read as anonymous baskets and personal recommendations are off. "
        "Related and bought-together lists are not affected. Approve the app's requested access in "
        "Shopify admin to turn personal recommendations on."
    )
