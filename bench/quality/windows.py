"""Benchmark: the training's own evaluation on rolling time windows of the UCI Online Retail data.

For each window, everything `train` does before publishing is run on the orders before the
window's end with the hold-out from its first day (`training.training_evaluate`): every candidate
and baseline fitted on the orders before the window, its lists scored as they would be published
(fills and the bought-together evidence rule included) on the window's orders, each candidate's
difference from its kind's plain reference and from the best baseline with a 95% interval (a
bootstrap over test orders; customers for personal lists), and the champion the rule picks. The
engine's defaults were tuned on the hold-out from 2011-11-01 (`bench.quality.run`); the three
one-month windows before it were not used for tuning, and that one is reported last, labelled.

    make bench-windows        # OPENBLAS_NUM_THREADS=1 .venv/bin/python -m bench.quality.windows
"""

from __future__ import annotations

import os
import sys
import time
from datetime import UTC, datetime

from bench.common import ONLINE_RETAIL, results_write

WINDOWS = (
    ("2011-08-01", "2011-09-01", "not tuned on"),
    ("2011-09-01", "2011-10-01", "not tuned on"),
    ("2011-10-01", "2011-11-01", "not tuned on"),
    ("2011-11-01", "2011-12-10", "the window the defaults were tuned on"),
)


def _day(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def main() -> None:
    if not ONLINE_RETAIL.exists():
        sys.exit(f"needs the UCI Online Retail file at {ONLINE_RETAIL}")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ["LOG_LEVEL"] = "WARNING"
    import django

    django.setup()
    import numpy as np

    from bench.quality.online_retail import load_online_retail
    from recommendations.engine.data import orders_subset
    from recommendations.services.training import training_evaluate
    from recommendations.services.training_data import TrainingData

    catalog, orders, _ = load_online_retail(ONLINE_RETAIL)
    report = []
    for start, end, note in WINDOWS:
        until = orders_subset(orders, orders.order_time < _day(end).timestamp())
        data = TrainingData(
            catalog=catalog,
            orders=until,
            product_pks=np.arange(1, catalog.n_items + 1),
            customer_refs=[f"c{user}" for user in range(until.n_users)],
        )
        started = time.perf_counter()
        evaluation, split = training_evaluate(data, holdout_from=_day(start))
        seconds = time.perf_counter() - started
        report.append({"window": [start, end], "note": note, "split": split, "seconds": round(seconds, 1),
                       "evaluation": evaluation})  # fmt: skip
        print(f"{start} .. {end} ({note}): {split['train_orders']} train orders, {split['test_orders']} test "
              f"orders, evaluated in {seconds:.1f} s")  # fmt: skip
        for kind, entry in evaluation.items():
            metric = entry["metric"]
            print(f"  {kind} ({metric}@{entry['k']}): champion {entry['champion']}: {entry['reason']}")
            for name, row in sorted(entry["candidates"].items(), key=lambda pair: -pair[1][metric]):
                against = "  ".join(
                    f"{difference:+.4f} [{low:+.4f}, {high:+.4f}] vs {other}"
                    for other, (difference, low, high) in row.get("intervals", {}).items()
                )
                print(f"    {name:22} {row[metric]:.4f}  coverage {row['coverage']:.3f}  {against}")
    print(f"results in {results_write(report, default_name='bench-windows.json')}")


if __name__ == "__main__":
    main()
