"""Undone webhook deliveries across shops, for the operator; `--retry-dead` queues dead letters again."""

from __future__ import annotations

from django.db.models import Count

from integrations.deliveries import UNDONE, webhook_deliveries_retry
from integrations.models import WebhookDelivery
from shops.management.base import BasketryCommand


class Command(BasketryCommand):
    help = "List queued and dead-letter webhook deliveries per shop and topic; --retry-dead queues dead letters again."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--retry-dead", action="store_true", help="Put every dead letter back in the queue.")

    def handle(self, *args, **options) -> None:
        if options["retry_dead"]:
            self.stdout.write(f"{webhook_deliveries_retry()} dead letter(s) queued again")
        rows = (
            WebhookDelivery.all_shops.filter(status__in=UNDONE)
            .values("status", "shop__domain", "topic")
            .annotate(count=Count("pk"))
            .order_by("status", "shop__domain", "topic")
        )
        if not rows:
            self.stdout.write("no undone deliveries")
            return
        for row in rows:
            self.stdout.write(f"{row['status']:<7} {row['count']:>6}  {row['shop__domain']}  {row['topic']}")
        for dead in WebhookDelivery.all_shops.filter(status=WebhookDelivery.Status.DEAD).order_by("-received_at")[:20]:
            self.stdout.write(f"dead letter {dead.pk} ({dead.topic}, {dead.attempts} attempts): {dead.detail}")
