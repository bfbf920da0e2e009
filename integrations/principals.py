"""Who an authenticated admin or plugin request acts for."""

from __future__ import annotations

from dataclasses import dataclass

from shops.models import Shop


@dataclass(frozen=True)
class ShopPrincipal:
    """The shop a request was verified for (an ID token's `dest`, a plugin's signature) and who
    acts: a Shopify staff member's id, or "plugin". `shop` is what every view scopes to."""

    shop: Shop
    user_id: str
    is_authenticated: bool = True
