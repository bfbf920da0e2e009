from __future__ import annotations

import secrets

from django.db import models

from shops.crypto import EncryptedJSONField, EncryptedTextField, keyed_hash


def _new_customer_ref_secret() -> str:
    return secrets.token_hex(32)


class Shop(models.Model):
    """A tenant: one connected store. Not shop-owned itself; everything else hangs off it."""

    class Platform(models.TextChoices):
        SHOPIFY = "shopify", "Shopify"
        WOOCOMMERCE = "woocommerce", "WooCommerce"
        CSV = "csv", "CSV import"

    class Status(models.TextChoices):
        INSTALLED = "installed", "Installed"
        UNINSTALLED = "uninstalled", "Uninstalled"

    platform = models.CharField(max_length=16, choices=Platform.choices)
    domain = models.CharField(max_length=255, help_text="Host name (and :port) of the store, lower case.")
    name = models.CharField(max_length=255, blank=True)
    # The platform's own id of the store (Shopify's numeric shop id), once a sync has read it:
    # compliance and app webhooks name it, and a delivery naming another store is refused.
    platform_id = models.CharField(max_length=64, blank=True)
    currency = models.CharField(max_length=3, default="USD")
    timezone = models.CharField(max_length=64, default="UTC")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.INSTALLED)
    installed_at = models.DateTimeField()
    uninstalled_at = models.DateTimeField(null=True, blank=True)
    settings = models.JSONField(default=dict, blank=True)
    # The billing plan (shops/plans.py) Shopify's active subscription pays for; written only by
    # integrations/shopify/billing.py from what Shopify reports. Ignored with billing off.
    plan = models.CharField(max_length=16, default="free")
    # Platform credentials (access tokens, API keys); encrypted at rest, never shown in the admin.
    credentials = EncryptedJSONField(default=dict, blank=True)
    # Key of the keyed hash that turns a platform customer id into a pseudonymous reference.
    customer_ref_secret = EncryptedTextField(default=_new_customer_ref_secret, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["platform", "domain"], name="shop_platform_domain_unique")]
        ordering = ["domain"]

    def __str__(self) -> str:
        return f"{self.domain} ({self.get_platform_display()})"

    def customer_ref(self, customer_id: str) -> str:
        """The pseudonymous reference stored in place of the platform's customer id."""
        return keyed_hash(secret=self.customer_ref_secret, value=str(customer_id))
