"""Benchmark: how a full training's time and memory grow with the data (synthetic scale-up).

The UCI Online Retail orders are replicated `factor` times: each copy gets its own customers and
its orders shifted by up to three days, so baskets, seasons and the catalogue (3.9k products)
stay real while orders, lines and customers grow. Runs everything between loading and
publishing (`_Trainer.compute`: evaluate every candidate and baseline, refit the champions,
precompute and explain every list) in a fresh process per factor, on one core.

    make bench-scale
"""

from __future__ import annotations

import datetime as dt
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SECONDS_PER_DAY = 86400.0


def run_one(factor: int) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ["LOG_LEVEL"] = "WARNING"
    import django

    django.setup()
    import numpy as np

    from bench.quality.online_retail import load_online_retail
    from recommendations.engine.data import orders_from_lines
    from recommendations.services.training import _Trainer
    from recommendations.services.training_data import TrainingData

    catalog, orders, _ = load_online_retail()
    rng = np.random.default_rng(factor)
    times, users, line_orders, line_items, quantities = [], [], [], [], []
    for copy in range(factor):
        shift = rng.uniform(-3, 3, size=orders.n_orders) * SECONDS_PER_DAY if copy else np.zeros(orders.n_orders)
        times.append(orders.order_time + shift)
        users.append(np.where(orders.order_user >= 0, orders.order_user + copy * orders.n_users, -1))
        line_orders.append(orders.line_order + copy * orders.n_orders)
        line_items.append(orders.line_item)
        quantities.append(orders.line_quantity)
    time_order = np.argsort(np.concatenate(times), kind="stable")
    position = np.empty_like(time_order)
    position[time_order] = np.arange(time_order.size)
    scaled = orders_from_lines(
        order_time=np.concatenate(times)[time_order],
        order_user=np.concatenate(users)[time_order],
        line_order=position[np.concatenate(line_orders)],
        line_item=np.concatenate(line_items),
        n_users=orders.n_users * factor,
        line_quantity=np.concatenate(quantities),
    )
    data = TrainingData(
        catalog=catalog,
        orders=scaled,
        product_pks=np.arange(1, catalog.n_items + 1),
        customer_refs=[f"c{user}" for user in range(scaled.n_users)],
    )
    trainer = _Trainer(
        shop=None, run=None, holdout_from=dt.datetime(2011, 11, 1, tzinfo=dt.UTC), progress=lambda s: None
    )
    started = time.perf_counter()
    lists, evaluation = trainer.compute(data, rules=[], now=dt.datetime(2011, 12, 10, tzinfo=dt.UTC))
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    steps = ", ".join(f"{step} {value:.1f}" for step, value in trainer.timings.items())
    champions = ", ".join(f"{kind} {entry['champion']}" for kind, entry in evaluation.items())
    print(
        f"| {factor}x | {scaled.n_orders:,} | {len(scaled.line_item):,} | {scaled.n_users:,} | {seconds:.1f} s | "
        f"{peak:,} MiB | {steps} | {champions} |",
        flush=True,
    )


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--one":
        run_one(int(sys.argv[2]))
        return
    factors = [int(value) for value in sys.argv[1:]] or [1, 4, 16]
    print("| scale | orders | lines | customers | compute time | peak RSS | steps (s) | champions |")
    print("|---|---|---|---|---|---|---|---|")
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    for factor in factors:
        subprocess.run([sys.executable, __file__, "--one", str(factor)], cwd=ROOT, env=env, check=True)


if __name__ == "__main__":
    main()
