"""Customer tokens for personal lists on stores whose platform cannot sign requests for us
(the WordPress plugin).

The plugin holds its shop's token key (handed over when the store connects) and, for a logged-in
shopper, prints a short-lived token into the page:

    v1.<customer id>.<expires, unix seconds>.<hex HMAC-SHA256(key, "v1|<shop domain>|<customer id>|<expires>")>

PHP makes one with `hash_hmac('sha256', "v1|$domain|$id|$expires", $key)`. The domain inside the
MAC binds a token to one shop; the expiry bounds how long a leaked page can reuse it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time

TOKEN_VERSION = "v1"
# Plugins sign tokens for one page view; a day of slack covers full-page caches that hold a page
# for a logged-in shopper, and anything promising more is refused.
MAX_TOKEN_LIFETIME_SECONDS = 24 * 3600
CREDENTIALS_KEY = "storefront_token_key"
_CUSTOMER_ID = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")
_TOKEN = re.compile(r"^v1\.([A-Za-z0-9_\-]{1,64})\.([0-9]{1,12})\.([0-9a-f]{64})$")


class CustomerTokenInvalid(Exception):
    """The token is malformed, signed with another key or for another shop, or expired."""


def customer_token_key_new() -> str:
    return secrets.token_hex(32)


def _mac(*, key: str, domain: str, customer_id: str, expires: int) -> str:
    message = f"{TOKEN_VERSION}|{domain}|{customer_id}|{expires}"
    return hmac.new(key.encode(), message.encode(), hashlib.sha256).hexdigest()


def customer_token_sign(*, key: str, domain: str, customer_id: str, expires: int) -> str:
    """What the plugin does; used by the tests and by operators checking a plugin's output."""
    if not _CUSTOMER_ID.match(customer_id):
        raise ValueError("customer id: letters, digits, - and _ only, at most 64")
    mac = _mac(key=key, domain=domain, customer_id=customer_id, expires=expires)
    return f"{TOKEN_VERSION}.{customer_id}.{expires}.{mac}"


def customer_token_parse(token: str) -> tuple[str, int, str]:
    """(customer id, expires, mac) of a well-formed token; raises CustomerTokenInvalid otherwise."""
    match = _TOKEN.match(token)
    if match is None:
        raise CustomerTokenInvalid("malformed customer token")
    return match.group(1), int(match.group(2)), match.group(3)


def customer_token_verify(*, key: str, domain: str, token: str, now: float | None = None) -> str:
    """The customer id the token vouches for; raises CustomerTokenInvalid."""
    customer_id, expires, mac = customer_token_parse(token)
    now = time.time() if now is None else now
    if not key or not hmac.compare_digest(mac, _mac(key=key, domain=domain, customer_id=customer_id, expires=expires)):
        raise CustomerTokenInvalid("customer token not signed for this shop")
    if expires < now:
        raise CustomerTokenInvalid("customer token expired")
    if expires > now + MAX_TOKEN_LIFETIME_SECONDS:
        raise CustomerTokenInvalid("customer token lives too long")
    return customer_id
