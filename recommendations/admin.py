from django.contrib import admin

from recommendations.models import (
    DataProfile,
    Experiment,
    MerchantRule,
    ModelVersion,
    RecommendationList,
    TrainingRun,
)
from shops.admin import ReadOnlyAdmin


@admin.register(DataProfile)
class DataProfileAdmin(ReadOnlyAdmin):
    list_display = ("shop", "paid_orders", "multi_item_orders", "customers", "products", "computed_at")
    list_select_related = ("shop",)


@admin.register(TrainingRun)
class TrainingRunAdmin(ReadOnlyAdmin):
    list_display = ("shop", "pk", "status", "trigger", "created_at", "finished_at", "promoted", "decision")
    list_filter = ("status", "trigger", "shop")
    list_select_related = ("shop",)


@admin.register(ModelVersion)
class ModelVersionAdmin(ReadOnlyAdmin):
    list_display = ("shop", "number", "status", "champions", "published_at")
    list_filter = ("status", "shop")
    list_select_related = ("shop",)


@admin.register(RecommendationList)
class RecommendationListAdmin(ReadOnlyAdmin):
    list_display = ("shop", "version", "kind", "anchor")
    list_filter = ("kind", "shop")
    search_fields = ("anchor",)
    list_select_related = ("shop", "version")


@admin.register(MerchantRule)
class MerchantRuleAdmin(ReadOnlyAdmin):
    """Rules are written through their validating service (dashboard), so the admin only shows them."""

    list_display = ("shop", "kind", "name", "enabled", "position", "list_kinds")
    list_filter = ("kind", "enabled", "shop")
    list_select_related = ("shop",)


@admin.register(Experiment)
class ExperimentAdmin(ReadOnlyAdmin):
    """Tests are created and stopped by the merchant (dashboard); their salt is never shown."""

    list_display = ("shop", "name", "block", "starts_at", "ends_at", "stopped_at")
    list_filter = ("block", "shop")
    list_select_related = ("shop",)
    exclude = ("salt",)
