from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from integrations.woocommerce.connect import woocommerce_connect_manual
from shops.management.base import BasketryCommand


class Command(BasketryCommand):
    help = (
        "Connect (or update) the WooCommerce store at URL with a REST API key pair (read_write): checks the "
        "keys with a test call, stores them encrypted, registers the webhooks, and queues the first sync."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--url", required=True, help="The store's address, e.g. https://shop.example.com.")
        parser.add_argument("--consumer-key", required=True)
        parser.add_argument("--consumer-secret", required=True)

    def handle(self, *args: Any, **options: Any) -> None:
        shop = woocommerce_connect_manual(
            store_url=options["url"], consumer_key=options["consumer_key"], consumer_secret=options["consumer_secret"]
        )
        self.stdout.write(f"Connected {shop.domain} (id {shop.pk}); webhooks registered, first sync queued.")
