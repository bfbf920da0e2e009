from __future__ import annotations

from django.db import models

from shops.records import OrderStatus
from shops.tenancy import ShopOwnedModel


class Order(ShopOwnedModel):
    """A basket as recommendations need it: what was bought together, when, and by which pseudonym.

    No names, emails, phones or addresses: the customer is only a keyed hash (`Shop.customer_ref`).
    """

    class Status(models.TextChoices):
        PAID = OrderStatus.PAID, "Paid"
        PENDING = OrderStatus.PENDING, "Pending"
        CANCELLED = OrderStatus.CANCELLED, "Cancelled"
        REFUNDED = OrderStatus.REFUNDED, "Refunded"
        FAILED = OrderStatus.FAILED, "Failed"
        TEST = OrderStatus.TEST, "Test"

    external_id = models.CharField(max_length=255)
    created_at = models.DateTimeField(help_text="When the order was placed on the platform.")
    currency = models.CharField(max_length=3)
    total = models.DecimalField(max_digits=14, decimal_places=4)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PAID)
    customer_ref = models.CharField(
        max_length=64, null=True, blank=True, help_text="Keyed hash of the platform customer id; empty for guests."
    )
    updated_at = models.DateTimeField(
        null=True, blank=True, help_text="The platform's last change; late deliveries older than this change nothing."
    )
    synced_at = models.DateTimeField(auto_now=True)
    # "<experiment id>:<arm>" when the shopper took part in an A/B test (a cart attribute or
    # order meta the widget set); nothing about who they are.
    experiment_arm = models.CharField(max_length=24, blank=True, default="", db_default="")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["shop", "external_id"], name="order_shop_external_id_unique")]
        indexes = [
            # Training reads a shop's paid orders in time order (time-split evaluation).
            models.Index(fields=["shop", "status", "created_at"], name="order_shop_status_created_idx"),
            models.Index(fields=["shop", "customer_ref"], name="order_shop_customer_idx"),
            # The webhook ingress refuses a Shopify delivery naming another shop's order id.
            models.Index(fields=["external_id"], name="order_external_id_idx"),
        ]

    def __str__(self) -> str:
        return f"Order {self.external_id}"


class OrderLine(ShopOwnedModel):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    # A product deleted on the platform leaves the basket intact, with this line anonymous.
    product = models.ForeignKey("shops.Product", on_delete=models.SET_NULL, null=True, related_name="+")
    variant_id = models.CharField(max_length=255, blank=True)
    quantity = models.PositiveIntegerField()
    unit_price = models.DecimalField(max_digits=14, decimal_places=4)
    source_block = models.CharField(
        max_length=24,
        blank=True,
        default="",
        # Also in the database: bulk COPYs that do not name the column get "" rather than NULL.
        db_default="",
        help_text="The Basketry block the line was added from (attribution), or empty.",
    )

    class Meta:
        indexes = [models.Index(fields=["shop", "product"], name="orderline_shop_product_idx")]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.product_id}"
