from __future__ import annotations

import datetime as dt
import sys
import zoneinfo
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser
from tqdm import tqdm

from integrations.csv.services import orders_import_online_retail
from shops.management.base import BasketryCommand
from shops.tenancy import shop_scope


def _parse_bound(value: str | None, *, option: str, timezone_name: str) -> dt.datetime | None:
    if value is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise CommandError(f"{option} {value!r} is not an ISO date or date-time (e.g. 2011-06-01).") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zoneinfo.ZoneInfo(timezone_name))
    return parsed


class Command(BasketryCommand):
    help = (
        "Import order history from a CSV in the UCI Online Retail layout (plain or .gz). "
        "Products are derived from the lines; already imported orders are skipped."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("domain", help="Domain of an existing shop.")
        parser.add_argument("path", type=Path)
        parser.add_argument("--format", required=True, choices=["online-retail"])
        parser.add_argument("--since", help="Only orders placed at or after this ISO date-time (shop's time zone).")
        parser.add_argument("--until", help="Only orders placed before this ISO date-time (shop's time zone).")
        parser.add_argument(
            "--no-train", action="store_true", help="Do not queue a retraining, even after a large import."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        shop = self.shop_from_argument(options["domain"])
        since = _parse_bound(options["since"], option="--since", timezone_name=shop.timezone)
        until = _parse_bound(options["until"], option="--until", timezone_name=shop.timezone)
        if since and until and since >= until:
            raise CommandError("--since must be earlier than --until.")

        bars: list[tqdm] = []

        def progress(done: int, total: int) -> None:
            # Created on the first report, when the size of the file is known.
            if not bars:
                bars.append(
                    tqdm(total=total, unit="B", unit_scale=True, desc="Importing", disable=not sys.stderr.isatty())
                )
            bars[0].update(done - bars[0].n)

        try:
            with shop_scope(shop):
                report = orders_import_online_retail(
                    shop=shop,
                    path=options["path"],
                    since=since,
                    until=until,
                    progress=progress,
                    retrain=not options["no_train"],
                )
        finally:
            for bar in bars:
                bar.close()

        self.stdout.write(
            f"Imported {report.orders_created} orders with {report.lines_created} lines "
            f"and {report.products_created} new products into {shop.domain} "
            f"({report.lines_read} lines read)."
        )
        if report.orders_already_present:
            self.stdout.write(f"Skipped {report.orders_already_present} orders already imported.")
        for reason, count in sorted(report.skipped_lines.items()):
            self.stdout.write(f"Skipped {count} lines: {reason}.")
        if report.retraining_queued:
            self.stdout.write("Queued a retraining: this import added many orders.")
