"""Base for the project's management commands: application errors become one clear line, exit 1."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from shops.errors import ApplicationError
from shops.models import Shop
from shops.selectors import shop_get_by_domain


class BasketryCommand(BaseCommand):
    def execute(self, *args: Any, **options: Any) -> str | None:
        try:
            return super().execute(*args, **options)
        except ApplicationError as error:
            raise CommandError(error.message) from error

    @staticmethod
    def shop_from_argument(domain: str) -> Shop:
        return shop_get_by_domain(domain=domain)
