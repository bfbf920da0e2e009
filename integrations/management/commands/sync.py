from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from integrations.models import SyncRun
from integrations.runs import sync_run_fail
from integrations.services import SyncBusy, sync_errors, sync_execute
from shops.errors import ValidationFailed
from shops.management.base import BasketryCommand
from shops.models import Shop
from shops.tenancy import shop_scope


class Command(BasketryCommand):
    help = "Sync a connected store's catalogue and orders now, and wait for the result."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("domain")
        parser.add_argument(
            "--full",
            action="store_true",
            help="Import everything again (and mark deleted what the store no longer has).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        shop = self.shop_from_argument(options["domain"])
        if shop.platform not in (Shop.Platform.SHOPIFY, Shop.Platform.WOOCOMMERCE):
            raise ValidationFailed(f"{shop.domain} imports files ({shop.platform}); there is nothing to sync.")
        if shop.status != Shop.Status.INSTALLED:
            raise ValidationFailed(f"{shop.domain} is uninstalled.")
        kind = SyncRun.Kind.FULL if options["full"] else SyncRun.Kind.RECONCILE
        with shop_scope(shop):
            try:
                run = sync_execute(shop=shop, kind=kind, wait=True)
            except SyncBusy as error:
                raise ValidationFailed(f"{error}; try again when it has finished.") from error
            except sync_errors() as error:
                running = SyncRun.objects.filter(status=SyncRun.Status.RUNNING).order_by("-pk").first()
                if running is not None and not getattr(error, "retryable", False):
                    sync_run_fail(run=running, reason=str(error))
                raise ValidationFailed(f"Sync stopped: {error}. Run the command again to resume.") from error
        self.stdout.write(
            f"{run.get_kind_display()}: {run.products_synced} products and {run.orders_synced} orders "
            f"in {run.requests_made} requests ({run.throttled} throttled)."
        )
