"""Writes on the Shop itself."""

from __future__ import annotations

import re
import zoneinfo

from django.db import transaction
from django.utils import timezone

from shops.domains import shop_domain_normalize
from shops.errors import ValidationFailed
from shops.models import Shop

_CURRENCY = re.compile(r"^[A-Z]{3}$")


def _validate_currency(currency: str) -> str:
    normalized = currency.strip().upper()
    if not _CURRENCY.match(normalized):
        raise ValidationFailed(f"Invalid currency {currency!r}: expected a three-letter ISO 4217 code such as EUR.")
    return normalized


def _validate_timezone(name: str) -> str:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValidationFailed(f"Unknown time zone {name!r}: expected an IANA name such as Europe/London.") from None
    return name


@transaction.atomic
def shop_create(
    *,
    platform: str,
    domain: str,
    currency: str | None = None,
    name: str | None = None,
    timezone_name: str | None = None,
) -> tuple[Shop, bool]:
    """Create the shop, or return the existing one with the given fields updated (idempotent).

    Returns (shop, created).
    """
    domain = shop_domain_normalize(platform=platform, domain=domain)
    changes: dict[str, str] = {}
    if currency is not None:
        changes["currency"] = _validate_currency(currency)
    if timezone_name is not None:
        changes["timezone"] = _validate_timezone(timezone_name)
    if name is not None:
        changes["name"] = name.strip()

    shop = Shop.objects.select_for_update().filter(platform=platform, domain=domain).first()
    if shop is None:
        shop = Shop(platform=platform, domain=domain, installed_at=timezone.now(), **changes)
        if not shop.name:
            shop.name = domain
        shop.full_clean()
        shop.save()
        # The storefront may have remembered this domain as unknown.
        from recommendations.storefront.cache import storefront_invalidate

        transaction.on_commit(lambda: storefront_invalidate(domain=domain))
        return shop, True

    changed = [field for field, value in changes.items() if getattr(shop, field) != value]
    for field in changed:
        setattr(shop, field, changes[field])
    if changed:
        shop.save(update_fields=[*changed, "updated_at"])
    return shop, False


def shop_secrets_reencrypt() -> int:
    """Write every shop's encrypted fields again, so they use the newest key (key rotation).

    Loading decrypts with any key in ENCRYPTION_KEYS; saving encrypts with the first. Returns the
    number of shops.
    """
    count = 0
    for shop in Shop.objects.order_by("pk").iterator(chunk_size=200):
        with transaction.atomic():
            shop.save(update_fields=["credentials", "customer_ref_secret"])
        count += 1
    return count


def shop_storefront_token_key_get(*, shop: Shop) -> str:
    """The key a platform plugin signs customer tokens with (see recommendations.storefront.identity),
    created on first use and kept encrypted with the shop's credentials."""
    from recommendations.storefront.identity import CREDENTIALS_KEY, customer_token_key_new

    if shop.credentials.get(CREDENTIALS_KEY):
        return shop.credentials[CREDENTIALS_KEY]
    with transaction.atomic():
        locked = Shop.objects.select_for_update().get(pk=shop.pk)
        if not locked.credentials.get(CREDENTIALS_KEY):
            locked.credentials = {**locked.credentials, CREDENTIALS_KEY: customer_token_key_new()}
            locked.save(update_fields=["credentials", "updated_at"])
    shop.credentials = locked.credentials
    return locked.credentials[CREDENTIALS_KEY]
