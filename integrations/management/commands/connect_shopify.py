from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from integrations.shopify.client import ShopifyApiError, ShopifyClient
from integrations.shopify.install import shopify_connect_with_token
from integrations.shopify.sync import shop_info_refresh
from shops.errors import ValidationFailed
from shops.management.base import BasketryCommand
from shops.tenancy import shop_scope


class Command(BasketryCommand):
    help = (
        "Development: connect a Shopify store with an Admin API access token (e.g. a custom app's), "
        "check it with a test call and record the store's name, currency and time zone."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--domain", required=True, help="The store's myshopify.com domain.")
        parser.add_argument("--token", required=True, help="An Admin API access token for that store.")
        parser.add_argument(
            "--admin-api-base-url",
            default="",
            help="Send Admin API calls here instead of https://DOMAIN (a local stand-in server).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        base_url = options["admin_api_base_url"].rstrip("/")
        if base_url and not base_url.startswith(("http://", "https://")):
            raise ValidationFailed("--admin-api-base-url must be an http(s) URL.")
        shop = shopify_connect_with_token(
            domain=options["domain"].strip().lower(), access_token=options["token"], admin_api_base_url=base_url
        )
        try:
            with shop_scope(shop), ShopifyClient(shop=shop) as client:
                shop_info_refresh(shop=shop, client=client)
        except ShopifyApiError as error:
            raise ValidationFailed(f"Shopify refused the test call: {error}") from error
        shop.refresh_from_db()
        self.stdout.write(f"Connected {shop.domain} (id {shop.pk}, {shop.currency}, {shop.timezone}).")
        self.stdout.write(f"Next: python manage.py sync {shop.domain} --full")
