from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser
from tqdm import tqdm

from recommendations.models import ListKind
from recommendations.selectors import merchant_rules_active, model_version_live, product_facts_all
from recommendations.services.serving import recommendations_for_customer, recommendations_for_product
from shops.management.base import BasketryCommand
from shops.models import Product
from shops.tenancy import shop_scope

MAX_LIMIT = 24


class Command(BasketryCommand):
    help = (
        "Batch export: one JSON line per id in FILE (product ids, or platform customer ids for --type personal) "
        "with the published recommendations and their explanations."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("domain")
        parser.add_argument(
            "--type", required=True, choices=[ListKind.RELATED, ListKind.BOUGHT_TOGETHER, ListKind.PERSONAL]
        )
        parser.add_argument("--input", required=True, type=Path, help="Text file with one id per line.")
        parser.add_argument("--limit", type=int, default=10, help=f"Items per list, 1 to {MAX_LIMIT} (default 10).")

    def handle(self, *args: Any, **options: Any) -> None:
        limit = options["limit"]
        if not 1 <= limit <= MAX_LIMIT:
            raise CommandError(f"--limit must be between 1 and {MAX_LIMIT}.")
        try:
            inputs = [line.strip() for line in options["input"].read_text().splitlines() if line.strip()]
        except FileNotFoundError:
            raise CommandError(f"{options['input']}: no such file.") from None
        except (UnicodeDecodeError, IsADirectoryError):
            raise CommandError(f"{options['input']}: not a text file with one id per line.") from None

        shop = self.shop_from_argument(options["domain"])
        kind = options["type"]
        unknown = 0
        with shop_scope(shop):
            version = model_version_live()
            if version is None:
                raise CommandError(f"{shop.domain} has no published recommendations yet: run `train {shop.domain}`.")
            facts = product_facts_all()
            rules = merchant_rules_active()
            pk_by_external = dict(Product.objects.values_list("external_id", "pk"))
            external_by_pk = {pk: external for external, pk in pk_by_external.items()}
            progress = tqdm(inputs, desc="Exporting", unit=" lists", disable=not sys.stderr.isatty(), leave=False)
            for value in progress:
                if kind == ListKind.PERSONAL:
                    items = recommendations_for_customer(
                        version=version, customer_ref=shop.customer_ref(value), limit=limit, facts=facts, rules=rules
                    )
                elif value in pk_by_external:
                    items = recommendations_for_product(
                        version=version,
                        product_pk=pk_by_external[value],
                        kind=kind,
                        limit=limit,
                        facts=facts,
                        rules=rules,
                    )
                else:
                    items = []
                    unknown += 1
                line = {
                    "input": value,
                    "items": [
                        {
                            "product_id": external_by_pk[item["product_id"]],
                            "score": item["score"],
                            "explanation": item["explanation"],
                        }
                        for item in items
                    ],
                }
                self.stdout.write(json.dumps(line, ensure_ascii=False))
        if unknown:
            sys.stderr.write(
                f"{unknown} of {len(inputs)} product ids are not in {shop.domain}: their lines are empty.\n"
            )
