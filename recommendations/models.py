from __future__ import annotations

from django.db import models

from shops.tenancy import ShopOwnedModel


class DataProfile(ShopOwnedModel):
    """What a shop's data can support: the counts behind "enough for bought-together?".

    Refreshed after imports and syncs by the `data_profile_refresh` task; read by the demo and
    the dashboard without scanning orders.
    """

    paid_orders = models.PositiveIntegerField(default=0)
    multi_item_orders = models.PositiveIntegerField(default=0, help_text="Paid orders with 2+ distinct products.")
    order_lines = models.PositiveIntegerField(default=0)
    customers = models.PositiveIntegerField(default=0, help_text="Distinct pseudonymous customers with a paid order.")
    guest_orders = models.PositiveIntegerField(default=0)
    products = models.PositiveIntegerField(default=0)
    sellable_products = models.PositiveIntegerField(default=0, help_text="Published and in stock.")
    products_with_sales = models.PositiveIntegerField(default=0)
    first_order_at = models.DateTimeField(null=True, blank=True)
    last_order_at = models.DateTimeField(null=True, blank=True)
    computed_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["shop"], name="dataprofile_one_per_shop")]

    def __str__(self) -> str:
        return f"Data profile of shop {self.shop_id}"

    @property
    def multi_item_share(self) -> float:
        return self.multi_item_orders / self.paid_orders if self.paid_orders else 0.0
