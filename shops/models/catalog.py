from __future__ import annotations

from django.db import models
from django.utils import timezone

from shops.records import ProductStatus
from shops.tenancy import ShopOwnedModel


class Product(ShopOwnedModel):
    class Status(models.TextChoices):
        PUBLISHED = ProductStatus.PUBLISHED, "Published"
        DRAFT = ProductStatus.DRAFT, "Draft"
        ARCHIVED = ProductStatus.ARCHIVED, "Archived"
        UNLISTED = ProductStatus.UNLISTED, "Unlisted"
        DELETED = ProductStatus.DELETED, "Deleted"

    external_id = models.CharField(max_length=255, help_text="The platform's product id (or the CSV stock code).")
    title = models.CharField(max_length=512)
    handle = models.CharField(max_length=255, blank=True)
    url = models.CharField(max_length=2048, blank=True)
    # Text, not a URL field: demo products carry inline SVG data URLs.
    image_url = models.TextField(blank=True)
    price = models.DecimalField(max_digits=14, decimal_places=4)
    currency = models.CharField(max_length=3)
    category = models.CharField(max_length=255, blank=True, help_text="Product type or main category.")
    vendor = models.CharField(max_length=255, blank=True)
    tags = models.JSONField(default=list, blank=True)
    description = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PUBLISHED)
    in_stock = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now, help_text="When the platform created the product.")
    updated_at = models.DateTimeField(default=timezone.now, help_text="The platform's last change.")
    synced_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["shop", "external_id"], name="product_shop_external_id_unique"),
        ]
        indexes = [
            models.Index(fields=["shop", "status", "in_stock"], name="product_shop_sellable_idx"),
            # The webhook ingress refuses a Shopify delivery naming another shop's product id.
            models.Index(fields=["external_id"], name="product_external_id_idx"),
        ]

    def __str__(self) -> str:
        return self.title

    @staticmethod
    def sellable_from(status: str, in_stock) -> bool:
        """Whether a product in this status and stock may be shown and recommended."""
        return status == ProductStatus.PUBLISHED and bool(in_stock)


# The products that may be shown and recommended, as a filter (`Product.sellable_from` per row).
SELLABLE = models.Q(status=ProductStatus.PUBLISHED, in_stock=True)
