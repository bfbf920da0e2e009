"""Verifying what Shopify signs: ID tokens (App Bridge), OAuth query strings, shop domains.

`shopifyapp` checks an ID token's signature (current secret, then the previous one), expiry with
10 s of leeway and audience. The claims it leaves alone are checked here: every required claim is
present and the issuer and destination name the same, valid shop.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

SHOP_DOMAIN = re.compile(r"^[a-z0-9][a-z0-9-]*\.myshopify\.com$")
REQUIRED_CLAIMS = ("iss", "dest", "aud", "sub", "exp", "nbf", "iat", "jti", "sid")
# Shopify's own libraries allow 90 s of clock difference on signed query strings.
QUERY_TIMESTAMP_TOLERANCE_SECONDS = 90


def app_config() -> dict:
    return {
        "client_id": settings.SHOPIFY_API_KEY,
        "client_secret": settings.SHOPIFY_API_SECRET,
        "old_client_secret": settings.SHOPIFY_API_SECRET_OLD or None,
    }


def app_secrets() -> list[str]:
    return [secret for secret in (settings.SHOPIFY_API_SECRET, settings.SHOPIFY_API_SECRET_OLD) if secret]


def shop_domain_valid(domain: str) -> bool:
    return bool(SHOP_DOMAIN.match(domain or ""))


@dataclass(frozen=True)
class IdToken:
    domain: str  # e.g. "acme.myshopify.com"
    user_id: str
    claims: dict
    raw: str


@dataclass(frozen=True)
class Verification:
    """The outcome of checking an App Home request: the token, or the response Shopify expects."""

    id_token: IdToken | None
    status: int
    headers: dict[str, str]
    reason: str


def _claims_problem(claims: Mapping) -> str:
    missing = [claim for claim in REQUIRED_CLAIMS if claims.get(claim) in (None, "")]
    if missing:
        return f"missing claims: {', '.join(missing)}"
    issuer_host = urlsplit(str(claims["iss"])).hostname or ""
    dest_host = urlsplit(str(claims["dest"])).hostname or ""
    if issuer_host != dest_host:
        return "iss and dest name different shops"
    if not shop_domain_valid(dest_host):
        return "dest is not a shop domain"
    return ""


def app_home_request_verify(*, method: str, url: str, headers: Mapping[str, str]) -> Verification:
    """Verify an App Home document request (`?id_token=`) or fetch request (`Authorization: Bearer`)."""
    from shopify_app import verify_app_home_req

    if not settings.SHOPIFY_API_KEY or not settings.SHOPIFY_API_SECRET:
        return Verification(None, 503, {}, "the Shopify app is not configured (SHOPIFY_API_KEY, SHOPIFY_API_SECRET)")
    result = verify_app_home_req(
        {"method": method, "headers": dict(headers), "url": url, "body": ""},
        app_config(),
        "/shopify/patch-id-token",
    )
    is_fetch = any(key.lower() == "authorization" for key in headers)
    retry = {"X-Shopify-Retry-Invalid-Session-Request": "1"} if is_fetch else {}
    if not result.ok:
        return Verification(None, result.response.status, dict(result.response.headers), result.log.code)
    problem = _claims_problem(result.id_token.claims)
    if problem:
        return Verification(None, 401, retry, problem)
    claims = result.id_token.claims
    token = IdToken(
        domain=urlsplit(claims["dest"]).hostname, user_id=str(claims["sub"]), claims=claims, raw=result.id_token.token
    )
    return Verification(token, 200, dict(result.response.headers), "verified")


def query_hmac_valid(params: Mapping[str, str], *, now: float | None = None) -> bool:
    """An OAuth install or callback query string, signed as Shopify's admin does: every parameter
    but `hmac` (and the legacy `signature`), sorted, `key=value` joined with `&`, hex HMAC-SHA256."""
    given = params.get("hmac", "")
    message = "&".join(f"{key}={params[key]}" for key in sorted(params) if key not in ("hmac", "signature"))
    try:
        timestamp = int(params.get("timestamp", ""))
    except ValueError:
        return False
    now = time.time() if now is None else now
    if abs(now - timestamp) > QUERY_TIMESTAMP_TOLERANCE_SECONDS:
        return False
    for secret in app_secrets():
        expected = hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()
        if hmac.compare_digest(expected, given):
            return True
    return False


def customer_id_from_gid(value: object) -> str:
    """`gid://shopify/Customer/77` (GraphQL) and `77` (REST, App Proxy) are the same customer."""
    text = str(value or "").strip()
    return text.rsplit("/", 1)[-1] if text.startswith("gid://") else text
