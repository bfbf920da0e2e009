from __future__ import annotations

import datetime as dt
import sys
import zoneinfo
from typing import Any

from django.core.management.base import CommandError, CommandParser
from tqdm import tqdm

from recommendations.models import TrainingRun
from recommendations.services.training import training_run_create, training_run_execute
from shops.management.base import BasketryCommand
from shops.tenancy import shop_scope


class Command(BasketryCommand):
    help = "Train every model for the shop now, evaluate them on held-out orders and publish the result."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("domain")
        parser.add_argument(
            "--holdout-from",
            help="Hold out the orders from this ISO date on for evaluation (default: the latest 20%% of orders).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        shop = self.shop_from_argument(options["domain"])
        holdout_from = None
        if options["holdout_from"]:
            try:
                holdout_from = dt.datetime.fromisoformat(options["holdout_from"])
            except ValueError:
                raise CommandError(f"--holdout-from {options['holdout_from']!r} is not an ISO date.") from None
            if holdout_from.tzinfo is None:
                holdout_from = holdout_from.replace(tzinfo=zoneinfo.ZoneInfo(shop.timezone))

        bar = tqdm(desc="Training", unit=" step", disable=not sys.stderr.isatty(), leave=False)

        def progress(step: str) -> None:
            bar.set_postfix_str(step[:60], refresh=False)
            bar.update(1)

        try:
            with shop_scope(shop):
                run = training_run_create(shop=shop, trigger=TrainingRun.Trigger.COMMAND)
                run = training_run_execute(shop=shop, run=run, holdout_from=holdout_from, progress=progress)
        finally:
            bar.close()

        if run.status != TrainingRun.Status.SUCCEEDED:
            raise CommandError(f"Training {run.status}: {run.error}")
        self._print_report(run)

    def _print_report(self, run: TrainingRun) -> None:
        report = run.report
        split = report["split"]
        self.stdout.write(
            f"Trained on {report['data']['paid_orders']} orders, {report['data']['products']} products, "
            f"{report['data']['customers']} customers. Held out {split['test_orders']} orders"
            + (f" from {split['holdout_from']}" if split["holdout_from"] else "")
            + "."
        )
        for kind, entry in report["evaluation"].items():
            self.stdout.write(
                f"\n{kind} ({entry['metric']}@{entry['k']}, champion {entry['champion']}: {entry['reason']})"
            )
            # Item lists are judged as published; "raw" is the model's own ranking.
            raw_header = f" {'raw HR':>7} {'raw cov':>7}" if kind != "personal" else ""
            self.stdout.write(
                f"  {'model':26} {'HR':>7} {'NDCG':>7} {'P':>7} {'R':>7} {'cov':>6} {'pop':>6} {'fit s':>6}{raw_header}"
            )
            for name, row in sorted(entry["candidates"].items(), key=lambda pair: -pair[1][entry["metric"]]):
                label = f"{name}{' (baseline)' if row['baseline'] else ''}"
                metrics = " ".join(f"{row[key]:7.4f}" for key in ("hit_rate", "ndcg", "precision", "recall"))
                extra = f"{row['coverage']:6.3f} {row['popularity_bias']:6.2f} {row['fit_seconds']:6.2f}"
                if "raw" in row:
                    extra += f" {row['raw']['hit_rate']:7.4f} {row['raw']['coverage']:7.3f}"
                for other, (difference, low, high) in row.get("intervals", {}).items():
                    extra += f"  {difference:+.4f} [{low:+.4f}, {high:+.4f}] vs {other}"
                self.stdout.write(f"  {label:26} {metrics} {extra}")
            for window in entry.get("windows", []):
                self.stdout.write(f"  window {_window_text(window, entry)}")
        timings = ", ".join(f"{step} {seconds:.1f} s" for step, seconds in report["timings"].items())
        self.stdout.write(f"\nTimings: {timings}")
        verdict = "Published" if run.promoted else "Not published"
        self.stdout.write(f"{verdict}: {run.decision}.")


def _window_text(window: dict, entry: dict) -> str:
    """One evaluation window as a line: its span and orders, then what was compared on it."""
    span = f"{(window.get('from') or 'the start')[:10]} to {(window.get('to') or 'the end')[:10]}"
    text = f"{span} ({window['train_orders']} orders before, {window['test_orders']} in it, {window['cases']} cases)"
    if not window["judged"]:
        return f"{text}: {window['note']}"
    if "values" not in window:
        return f"{text}: nothing to compare"
    (challenger, reference), (ours, theirs) = window["compared"], window["values"]
    difference, low, high = window["interval"]
    return (
        f"{text}: {challenger} {ours:.4f}, {reference} {theirs:.4f} ({entry['metric']}), "
        f"{difference:+.4f} [{low:+.4f}, {high:+.4f}]"
    )
