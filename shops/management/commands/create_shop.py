from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from shops.management.base import BasketryCommand
from shops.models import Shop
from shops.services.shops import shop_create


class Command(BasketryCommand):
    help = "Create a shop (or update the existing one with the same platform and domain)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--platform", required=True, choices=Shop.Platform.values)
        parser.add_argument("--domain", required=True, help="Host name of the store, e.g. my-store.myshopify.com.")
        parser.add_argument("--currency", help="ISO 4217 code of the store's prices (default USD for a new shop).")
        parser.add_argument("--name", help="Display name (default: the domain).")
        parser.add_argument("--timezone", help="IANA time zone of the store (default UTC for a new shop).")

    def handle(self, *args: Any, **options: Any) -> None:
        shop, created = shop_create(
            platform=options["platform"],
            domain=options["domain"],
            currency=options["currency"],
            name=options["name"],
            timezone_name=options["timezone"],
        )
        verb = "Created" if created else "Already exists:"
        self.stdout.write(
            f"{verb} shop {shop.domain} (id {shop.pk}, {shop.platform}, {shop.currency}, {shop.timezone})"
        )
