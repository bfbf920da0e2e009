"""Store domains: the one place that says what a valid domain looks like on each platform."""

from __future__ import annotations

import re

from shops.errors import ValidationFailed
from shops.models import Shop

_SHOPIFY_DOMAIN = re.compile(r"^[a-z0-9][a-z0-9-]*\.myshopify\.com$")
_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def shop_domain_normalize(*, platform: str, domain: str) -> str:
    """The canonical form of a store's domain, or ValidationFailed saying what is wrong with it."""
    if platform not in Shop.Platform.values:
        raise ValidationFailed(f"Unknown platform {platform!r}: use one of {', '.join(Shop.Platform.values)}.")
    candidate = (domain or "").strip().lower().rstrip(".")
    if "://" in candidate or "/" in candidate:
        raise ValidationFailed(f"Invalid domain {domain!r}: give the host name only, without a scheme or path.")
    if platform == Shop.Platform.SHOPIFY:
        if not _SHOPIFY_DOMAIN.match(candidate):
            raise ValidationFailed(f"Invalid Shopify domain {domain!r}: expected <store>.myshopify.com.")
        return candidate
    host, _, port = candidate.partition(":")
    if port and not (port.isdigit() and 0 < int(port) < 65536):
        raise ValidationFailed(f"Invalid domain {domain!r}: the port must be a number from 1 to 65535.")
    labels = host.split(".")
    if not host or len(host) > 253 or not all(_HOST_LABEL.match(label) for label in labels):
        raise ValidationFailed(
            f"Invalid domain {domain!r}: expected a host name such as shop.example.com "
            "(letters, digits, hyphens, dots)."
        )
    return candidate
