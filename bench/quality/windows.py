"""Benchmark: bought-together candidates on rolling time windows of the UCI Online Retail data.

For each window, every candidate is fitted on all the orders before the window's first day and
scored on the orders of the window (`engine.evaluate.item_cases`: each test order with two or
more items, each of its items as the anchor, HR@5 = the anchor's top five held another item of
the order), with catalogue coverage, and each candidate's HR@5 against the better of plain
confidence and cosine on that window as a paired difference with its 95% interval (a bootstrap
over test orders). The engine's defaults were tuned on the hold-out from 2011-11-01
(`bench.quality.run`); the three windows before it were not used for tuning, and that one is
reported last, labelled, for comparison.

These are the scorers' own top five, as `similar` ranks them, before publishing adds fills
(category, then shop best sellers) to short lists.

    make bench-windows        # OPENBLAS_NUM_THREADS=1 .venv/bin/python -m bench.quality.windows
"""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from bench.common import ONLINE_RETAIL, ROOT
from bench.quality.online_retail import load_online_retail
from recommendations.engine import bought_together as bt
from recommendations.engine import popularity
from recommendations.engine.data import orders_subset
from recommendations.engine.evaluate import item_cases, paired_interval

WINDOWS = (
    ("2011-08-01", "2011-09-01", "not tuned on"),
    ("2011-09-01", "2011-10-01", "not tuned on"),
    ("2011-10-01", "2011-11-01", "not tuned on"),
    ("2011-11-01", "2011-12-10", "the window the defaults were tuned on"),
)
K = 5


def candidates():
    """(name as the training's report gives it, unfitted model)."""
    return (
        ("recent_popular", popularity.RecentPopularityModel(window_days=30)),
        ("bt_confidence", bt.ConfidenceModel()),
        ("bt_cosine", bt.CosineModel()),
        ("bt_blend", bt.BlendModel()),
        ("bt_coverage", bt.CoverageModel()),
    )


def _timestamp(day: str) -> float:
    return datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp()


def window_scores(catalog, orders, start: str, end: str) -> dict:
    begin, finish = _timestamp(start), _timestamp(end)
    train = orders_subset(orders, orders.order_time < begin)
    test = orders_subset(orders, (orders.order_time >= begin) & (orders.order_time < finish))
    results, hits = {}, {}
    for name, model in candidates():
        started = time.perf_counter()
        cases = item_cases(model.fit(catalog, train, now=begin), catalog, train, test, k=K)
        seconds = time.perf_counter() - started
        shown = np.unique(cases.lists[cases.lists >= 0])
        hits[name] = cases.hits
        results[name] = {
            "hr@5": round(float(cases.hits.mean()), 4),
            "coverage": round(shown.size / cases.population.size, 4),
            "seconds": round(seconds, 1),
        }
        orders_of_cases = cases.orders
    baseline = max(("bt_confidence", "bt_cosine"), key=lambda name: hits[name].mean())
    for name, entry in results.items():
        mean, low, high = paired_interval(hits[name], hits[baseline], orders_of_cases)
        entry[f"vs {baseline}"] = [round(mean, 4), round(low, 4), round(high, 4)]
    return {"train_orders": train.n_orders, "test_orders": test.n_orders, "cases": int(orders_of_cases.size),
            "baseline": baseline, "candidates": results}  # fmt: skip


def main() -> None:
    if not ONLINE_RETAIL.exists():
        sys.exit(f"needs the UCI Online Retail file at {ONLINE_RETAIL}")
    catalog, orders, _ = load_online_retail(ONLINE_RETAIL)
    report = []
    for start, end, note in WINDOWS:
        scores = window_scores(catalog, orders, start, end)
        report.append({"window": [start, end], "note": note, **scores})
        print(f"{start} .. {end} ({note}): {scores['train_orders']} train orders, {scores['test_orders']} test "
              f"orders, {scores['cases']} cases; paired against {scores['baseline']}")  # fmt: skip
        for name, entry in scores["candidates"].items():
            mean, low, high = entry[f"vs {scores['baseline']}"]
            print(f"  {name:16} HR@5 {entry['hr@5']:.4f}  coverage {entry['coverage']:.3f}  "
                  f"diff {mean:+.4f} [{low:+.4f}, {high:+.4f}]  {entry['seconds']:5.1f} s")  # fmt: skip
    out = Path(os.environ.get("BENCH_OUT", ROOT / "var" / "bench-windows.json"))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(f"results in {out}")


if __name__ == "__main__":
    main()
