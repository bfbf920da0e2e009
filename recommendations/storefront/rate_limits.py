"""Rate limits of the storefront's event endpoints, keyed on what a client cannot change cheaply.

A header such as User-Agent costs nothing to rotate, so it is no part of the key. The key is the
client's network address: REMOTE_ADDR, or, when the operator names the proxies in front of this
deployment (TRUSTED_PROXIES), the first address in X-Forwarded-For that is not one of them. An
IPv6 client counts as its /64, which one subscriber usually gets whole. Behind Shopify's App
Proxy the peer is Shopify, which reports the shopper's address as the next X-Forwarded-For hop.
Counters live in the cache only, per shop and minute, and expire on their own.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import ipaddress
import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

_COUNTER_SECONDS = 120  # the current minute and the one before, then gone


@functools.cache
def _networks(trusted: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in trusted)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _within(hop: str, networks) -> bool:
    address = _address(hop)
    return address is not None and any(address in network for network in networks)


def client_address(request: HttpRequest, *, via_app_proxy: bool = False) -> str:
    """The address a rate limit counts this request under (a network for IPv6)."""
    trusted = _networks(tuple(settings.TRUSTED_PROXIES))
    forwarded = [hop for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
    # From the nearest hop outwards: each trusted proxy vouches for the hop before it.
    hops = [request.META.get("REMOTE_ADDR", ""), *reversed(forwarded)]
    index = 0
    while index + 1 < len(hops) and _within(hops[index], trusted):
        index += 1
    if via_app_proxy and index + 1 < len(hops):
        index += 1  # Shopify's proxy: the hop it reports is the shopper
    address = _address(hops[index])
    if address is None:
        return hops[index].strip()[:64]
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def _counter_over(key: str) -> bool:
    try:
        cache.add(key, 0, timeout=_COUNTER_SECONDS)
        return cache.incr(key) > settings.EVENT_BATCHES_PER_MINUTE
    except Exception:
        # Without a cache there is no shared counter; events are cheap to accept, so let them in.
        return False


def _digest(value: str) -> str:
    return hmac.new(settings.SECRET_KEY.encode(), value.encode(), hashlib.sha256).hexdigest()[:20]


def events_rate_exceeded(*, shop_id: int, request: HttpRequest, via_app_proxy: bool = False) -> bool:
    """Whether this client address has posted more event batches to this shop in the current
    minute than EVENT_BATCHES_PER_MINUTE. The address is kept only as a keyed hash in the key."""
    address = client_address(request, via_app_proxy=via_app_proxy)
    return _counter_over(f"shop:{shop_id}:events-rate:{_digest(address)}:{int(time.time() // 60)}")


def page_token_rate_exceeded(*, shop_id: int, nonce: str) -> bool:
    """The same limit for one page's token, from whichever addresses it is posted."""
    return _counter_over(f"shop:{shop_id}:events-rate-token:{_digest(nonce)}:{int(time.time() // 60)}")
