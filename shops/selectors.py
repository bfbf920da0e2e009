"""Reads on shops."""

from __future__ import annotations

from shops.errors import ApplicationError
from shops.models import Shop


class ShopNotFound(ApplicationError):
    pass


def shop_get_by_domain(*, domain: str) -> Shop:
    """The one shop with this domain; ShopNotFound if there is none, or more than one platform has it."""
    normalized = (domain or "").strip().lower().rstrip(".")
    matches = list(Shop.objects.filter(domain=normalized).order_by("platform")[:2])
    if not matches:
        raise ShopNotFound(f"No shop with domain {domain!r}: create it first with `create_shop`.")
    if len(matches) > 1:
        raise ShopNotFound(f"Domain {domain!r} is connected on more than one platform; it is ambiguous here.")
    return matches[0]
