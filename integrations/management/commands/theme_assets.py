from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser

from integrations.shopify.theme_assets import theme_assets_state, theme_assets_write
from shops.management.base import BasketryCommand


class Command(BasketryCommand):
    help = "Copy the storefront widget into the Shopify theme app extension's assets/ (or --check it is current)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--check",
            action="store_true",
            help="Write nothing; exit 1 if an extension asset differs from the file the backend serves.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["check"]:
            stale = [state for state in theme_assets_state() if not state.current]
            if stale:
                names = ", ".join(f"{state.target.name} (from {state.static_name})" for state in stale)
                raise CommandError(f"theme extension assets are out of date: {names}; run `manage.py theme_assets`")
            self.stdout.write("theme extension assets are current")
            return
        written = theme_assets_write()
        for path in written:
            self.stdout.write(f"wrote {path}")
        if not written:
            self.stdout.write("theme extension assets are current")
