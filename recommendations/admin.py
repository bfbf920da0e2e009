from django.contrib import admin

from recommendations.models import DataProfile
from shops.admin import ReadOnlyAdmin


@admin.register(DataProfile)
class DataProfileAdmin(ReadOnlyAdmin):
    list_display = ("shop", "paid_orders", "multi_item_orders", "customers", "products", "computed_at")
    list_select_related = ("shop",)
