"""Benchmark: quality and cost of a full training on the UCI Online Retail shop, end to end.

What an operator would run, on PostgreSQL: a scratch database, `create_shop`, `import_orders`,
`train --holdout-from 2011-11-01` (every candidate and baseline evaluated on the orders from
2011-11-01 to 2011-12-09, trained on the orders before), then `recommend` for a product, then a
nightly retraining with no new orders (as the Celery beat task runs it: it reuses the
evaluation). Prints the evaluation table, the training's own timings, and the wall time and
peak resident memory of the `train` process and of the nightly one.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres make bench-quality
"""

from __future__ import annotations

import json
import os
import tempfile

from bench.common import ONLINE_RETAIL, manage, scratch_database_env

DOMAIN = "online-retail.quality"
HOLDOUT_FROM = "2011-11-01"


def main() -> None:
    env = scratch_database_env("basketry_quality")
    manage(env, "migrate", "-v0")
    manage(
        env, "create_shop", "--platform", "csv", "--domain", DOMAIN, "--currency", "GBP", "--timezone", "Europe/London"
    )
    seconds, peak, out = manage(
        env, "import_orders", DOMAIN, str(ONLINE_RETAIL), "--format", "online-retail", "--no-train"
    )
    print(f"import: {seconds:.1f} s, peak RSS {peak} MiB -- {out.strip().splitlines()[0]}")

    seconds, peak, out = manage(env, "train", DOMAIN, "--holdout-from", HOLDOUT_FROM)
    print(out.rstrip())
    print(f"train process: {seconds:.1f} s wall, peak RSS {peak} MiB")

    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as ids:
        ids.write("85123A\n22423\n47566\n")
    for kind in ("bought_together", "related"):
        _, _, out = manage(env, "recommend", DOMAIN, "--type", kind, "--input", ids.name, "--limit", "3")
        for line in out.splitlines()[:1]:
            record = json.loads(line)
            shown = "; ".join(f"{item['product_id']} ({item['explanation']})" for item in record["items"])
            print(f"recommend {kind} {record['input']}: {shown}")
    os.unlink(ids.name)

    seconds, peak, out = manage(env, "shell", "-c", NIGHTLY.format(domain=DOMAIN))
    last = out.strip().splitlines()[-1]
    print(f"nightly retraining, no new orders: {seconds:.1f} s wall, peak RSS {peak} MiB -- {last}")


# A nightly retraining of the shop, run the way the nightly task runs one.
NIGHTLY = """
from recommendations.models import TrainingRun
from recommendations.services.training import training_run_create, training_run_execute
from shops.models import Shop
from shops.tenancy import shop_scope
shop = Shop.objects.get(domain="{domain}")
with shop_scope(shop):
    run = training_run_execute(shop=shop, run=training_run_create(shop=shop, trigger=TrainingRun.Trigger.NIGHTLY))
print(run.status, run.report["timings"], run.decision)
"""


if __name__ == "__main__":
    main()
