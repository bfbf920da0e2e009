"""Operator admin. Uses the unscoped manager (`all_shops`); synced data is read-only."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from shops.models import Order, OrderLine, Product, Shop


class ReadOnlyAdmin(admin.ModelAdmin):
    """Synced data belongs to the platform: edits here would be overwritten by the next sync."""

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest):
        return self.model.all_shops.get_queryset()


@admin.register(Shop)
class ShopAdmin(admin.ModelAdmin):
    list_display = ("domain", "platform", "name", "currency", "status", "installed_at")
    list_filter = ("platform", "status")
    search_fields = ("domain", "name")
    # Credentials and the customer-hash key stay out of every admin page.
    fields = (
        "platform",
        "domain",
        "name",
        "currency",
        "timezone",
        "status",
        "installed_at",
        "uninstalled_at",
        "settings",
    )
    readonly_fields = ("platform", "domain", "installed_at", "uninstalled_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Shops are created by installs and `create_shop`, which validate domains and set secrets.
        return False


@admin.register(Product)
class ProductAdmin(ReadOnlyAdmin):
    list_display = ("title", "shop", "external_id", "category", "vendor", "price", "currency", "status", "in_stock")
    list_filter = ("status", "in_stock", "shop")
    search_fields = ("title", "external_id")
    list_select_related = ("shop",)
    exclude = ("image_url",)


class OrderLineInline(admin.TabularInline):
    model = OrderLine
    fields = ("product", "variant_id", "quantity", "unit_price")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    list_display = ("external_id", "shop", "created_at", "status", "total", "currency")
    list_filter = ("status", "shop")
    search_fields = ("external_id",)
    date_hierarchy = "created_at"
    list_select_related = ("shop",)
    inlines = [OrderLineInline]
