from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from integrations.deliveries import webhook_deliveries_retry
from integrations.models import SyncRun, WebhookDelivery
from shops.admin import ReadOnlyAdmin


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    """Undone deliveries (queued, dead letters) with their attempts and last error; the one
    write is putting dead letters back in the queue once their cause is fixed."""

    list_display = ("shop", "platform", "topic", "status", "attempts", "received_at", "next_attempt_at", "detail")
    list_filter = ("status", "platform", "topic")
    search_fields = ("delivery_id", "shop__domain")
    list_select_related = ("shop",)
    # The work holds pseudonymous references only, but nothing here needs it shown.
    exclude = ("work",)
    actions = ("retry_dead_letters",)

    @admin.action(description="Put the selected dead letters back in the queue")
    def retry_dead_letters(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = webhook_deliveries_retry(delivery_pks=list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"{count} dead letter(s) queued again.", messages.SUCCESS)


@admin.register(SyncRun)
class SyncRunAdmin(ReadOnlyAdmin):
    list_display = ("shop", "kind", "status", "products_synced", "orders_synced", "started_at", "finished_at", "error")
    list_filter = ("status", "kind")
    list_select_related = ("shop",)
