from __future__ import annotations

from typing import Any

from shops.management.base import BasketryCommand
from shops.services.shops import shop_secrets_reencrypt


class Command(BasketryCommand):
    help = "Re-encrypt every shop's credentials and hash secret with the first key of ENCRYPTION_KEYS."

    def handle(self, *args: Any, **options: Any) -> None:
        count = shop_secrets_reencrypt()
        self.stdout.write(f"Re-encrypted the secrets of {count} shops with the current key.")
