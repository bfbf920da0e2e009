"""`create_shop` and the shop service: validation, idempotency, secrets at rest."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from shops.errors import ValidationFailed
from shops.models import Shop
from shops.services.shops import shop_create


def create_shop(*args: str) -> str:
    out = io.StringIO()
    call_command("create_shop", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_create_shop_is_idempotent():
    first = create_shop("--platform", "woocommerce", "--domain", "Shop.Example.com", "--currency", "gbp")
    second = create_shop("--platform", "woocommerce", "--domain", "shop.example.com")

    assert first.startswith("Created shop shop.example.com")
    assert second.startswith("Already exists: shop shop.example.com")
    shop = Shop.objects.get()
    assert (shop.platform, shop.domain, shop.currency, shop.status) == (
        "woocommerce",
        "shop.example.com",
        "GBP",
        "installed",
    )


@pytest.mark.django_db
def test_same_domain_on_two_platforms_is_two_shops():
    create_shop("--platform", "woocommerce", "--domain", "shop.example.com")
    create_shop("--platform", "csv", "--domain", "shop.example.com")
    assert Shop.objects.count() == 2


VALID = [
    ("shopify", "my-store.myshopify.com", "my-store.myshopify.com"),
    ("shopify", "MY-STORE.myshopify.com.", "my-store.myshopify.com"),
    ("woocommerce", "localhost:8080", "localhost:8080"),
    ("csv", "online-retail.example", "online-retail.example"),
]


@pytest.mark.django_db
@pytest.mark.parametrize("platform,domain,stored", VALID)
def test_valid_domains_are_normalised(platform, domain, stored):
    shop, created = shop_create(platform=platform, domain=domain)
    assert created and shop.domain == stored


INVALID = [
    ("shopify", "example.com", "expected <store>.myshopify.com"),
    ("shopify", "evil.myshopify.com.attacker.net", "expected <store>.myshopify.com"),
    ("woocommerce", "https://shop.example.com/", "without a scheme or path"),
    ("woocommerce", "shop example.com", "expected a host name"),
    ("woocommerce", "-shop.example.com", "expected a host name"),
    ("woocommerce", "shop.example.com:99999", "port must be a number"),
    ("csv", "", "expected a host name"),
]


@pytest.mark.django_db
@pytest.mark.parametrize("platform,domain,message", INVALID)
def test_invalid_domains_are_refused_and_nothing_is_created(platform, domain, message):
    with pytest.raises(CommandError, match=message.replace("(", r"\(")):
        create_shop("--platform", platform, f"--domain={domain}")
    assert Shop.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    "option,value,message",
    [("--currency", "euro", "three-letter ISO 4217"), ("--timezone", "Mars/Olympus", "Unknown time zone")],
)
def test_invalid_currency_or_timezone_is_refused(option, value, message):
    with pytest.raises(CommandError, match=message):
        create_shop("--platform", "csv", "--domain", "a.example", option, value)
    assert Shop.objects.count() == 0


@pytest.mark.django_db
def test_unknown_platform_is_refused_by_the_service():
    with pytest.raises(ValidationFailed, match="Unknown platform 'magento'"):
        shop_create(platform="magento", domain="a.example")


@pytest.mark.django_db
def test_credentials_and_customer_secret_are_encrypted_at_rest():
    shop, _ = shop_create(platform="woocommerce", domain="secure.example")
    shop.credentials = {"consumer_key": "ck_plaintext_123", "consumer_secret": "cs_plaintext_456"}
    shop.save(update_fields=["credentials"])

    with connection.cursor() as cursor:
        cursor.execute("SELECT credentials, customer_ref_secret FROM shops_shop WHERE id = %s", [shop.pk])
        stored_credentials, stored_secret = cursor.fetchone()
    assert "plaintext" not in stored_credentials and stored_credentials.startswith("gAAAA")
    reloaded = Shop.objects.get(pk=shop.pk)
    assert reloaded.credentials == {"consumer_key": "ck_plaintext_123", "consumer_secret": "cs_plaintext_456"}
    assert reloaded.customer_ref_secret not in stored_secret and len(reloaded.customer_ref_secret) == 64


@pytest.mark.django_db
def test_customer_refs_are_stable_per_shop_and_differ_across_shops(shop, other_shop):
    assert shop.customer_ref("42") == Shop.objects.get(pk=shop.pk).customer_ref("42")
    assert shop.customer_ref("42") != other_shop.customer_ref("42")
    assert shop.customer_ref("42") != shop.customer_ref("43")


@pytest.mark.django_db
def test_rotated_encryption_keys_still_decrypt_old_values(settings):
    from cryptography.fernet import Fernet

    from shops import crypto

    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.ENCRYPTION_KEYS = [old_key]
    crypto._fernet.cache_clear()
    try:
        shop, _ = shop_create(platform="csv", domain="rotate.example")
        shop.credentials = {"token": "t-1"}
        shop.save(update_fields=["credentials"])
        secret = shop.customer_ref_secret
        settings.ENCRYPTION_KEYS = [new_key, old_key]
        crypto._fernet.cache_clear()
        assert Shop.objects.get(pk=shop.pk).credentials == {"token": "t-1"}

        # Before re-encryption the old key is still needed...
        settings.ENCRYPTION_KEYS = [new_key]
        crypto._fernet.cache_clear()
        with pytest.raises(Exception, match="cannot be decrypted"):
            Shop.objects.get(pk=shop.pk)

        # ...after it, the new key alone reads everything, and customer refs do not change.
        settings.ENCRYPTION_KEYS = [new_key, old_key]
        crypto._fernet.cache_clear()
        out = io.StringIO()
        call_command("reencrypt_secrets", stdout=out)
        assert "Re-encrypted the secrets of 1 shops" in out.getvalue()
        settings.ENCRYPTION_KEYS = [new_key]
        crypto._fernet.cache_clear()
        reloaded = Shop.objects.get(pk=shop.pk)
        assert reloaded.credentials == {"token": "t-1"}
        assert reloaded.customer_ref_secret == secret
    finally:
        crypto._fernet.cache_clear()
