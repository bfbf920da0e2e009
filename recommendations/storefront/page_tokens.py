"""Page tokens: what lets a browser post widget events for a store that is not on Shopify.

Shopify signs every App Proxy request, so its stores' events need nothing more. A WordPress
plugin (or any page a store renders on its own server, such as the demo storefront) instead
signs a short-lived token into each page it renders, with the shop's storefront key (the one
customer tokens use, see `identity.py`):

    v1.<expires, unix seconds>.<nonce>.<hex HMAC-SHA256(key, "page|v1|<shop domain>|<expires>|<nonce>")>

PHP makes one with `hash_hmac('sha256', "page|v1|$domain|$expires|$nonce", $key)`. The "page"
prefix keeps a customer token's MAC from ever passing for a page token's. The domain binds a
token to one shop, the expiry bounds how long a copied token posts events, and the nonce lets
the backend count one token's batches wherever they come from.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time

PAGE_TOKEN_VERSION = "v1"
# What the plugin signs for: a page left open for a while still reports its clicks.
PAGE_TOKEN_LIFETIME_SECONDS = 2 * 3600
# Clocks of a store's server and of this deployment drift apart; a few minutes are tolerated.
CLOCK_SLACK_SECONDS = 300
_NONCE = re.compile(r"^[A-Za-z0-9_\-]{8,64}$")
_TOKEN = re.compile(r"^v1\.([0-9]{1,12})\.([A-Za-z0-9_\-]{8,64})\.([0-9a-f]{64})$")


class PageTokenInvalid(Exception):
    """The token is malformed, signed with another key or for another shop, or expired."""


def _mac(*, key: str, domain: str, expires: int, nonce: str) -> str:
    message = f"page|{PAGE_TOKEN_VERSION}|{domain}|{expires}|{nonce}"
    return hmac.new(key.encode(), message.encode(), hashlib.sha256).hexdigest()


def page_token_sign(*, key: str, domain: str, expires: int, nonce: str | None = None) -> str:
    """What the plugin does for each page; the demo storefront and the tests use it too."""
    nonce = secrets.token_hex(8) if nonce is None else nonce
    if not key:
        raise ValueError("key: the shop's storefront key is required")
    if not _NONCE.match(nonce):
        raise ValueError("nonce: 8 to 64 letters, digits, - or _")
    return f"{PAGE_TOKEN_VERSION}.{expires}.{nonce}.{_mac(key=key, domain=domain, expires=expires, nonce=nonce)}"


def page_token_verify(*, key: str, domain: str, token: object, now: float | None = None) -> str:
    """The token's nonce if it was signed for this shop and is still valid; raises PageTokenInvalid."""
    match = _TOKEN.match(token) if isinstance(token, str) else None
    if match is None:
        raise PageTokenInvalid("malformed page token")
    expires, nonce, mac = int(match.group(1)), match.group(2), match.group(3)
    now = time.time() if now is None else now
    if not key or not hmac.compare_digest(mac, _mac(key=key, domain=domain, expires=expires, nonce=nonce)):
        raise PageTokenInvalid("page token not signed for this shop")
    if expires < now - CLOCK_SLACK_SECONDS:
        raise PageTokenInvalid("page token expired")
    if expires > now + PAGE_TOKEN_LIFETIME_SECONDS + CLOCK_SLACK_SECONDS:
        raise PageTokenInvalid("page token lives too long")
    return nonce
