"""Benchmark: the initial Shopify sync of a large shop, from the fake Admin server over loopback.

A scratch PostgreSQL database; a fake store with 10,000 products and 40,000 orders (about 100,000
line items) over the last 50 days; throttling injected (THROTTLED responses and a 429 with
Retry-After). Runs the full sync (bulk operations, JSONL download and ingest) in this process and
checks the stored counts against the fake store exactly. Prints wall time, JSONL ingest rate,
requests, throttled responses and peak RSS.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres make bench-sync
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import subprocess
import sys
import time

from bench.common import ROOT, scratch_database_env

PRODUCTS = 10_000
ORDERS = 40_000
DOMAIN = "bench-sync.myshopify.com"


# The fake store runs in its own process, as Shopify would: in this one it would compete with the
# ingest for the interpreter lock and make the ingest look slower than it is.
_FAKE_SERVER = """
import json, sys
from tests.fakes.shopify import FakeShopify, populate
with FakeShopify(client_id="bench", client_secret="bench-secret", bulk_polls_until_done=3) as fake:
    store = fake.add_store(DOMAIN, currency="EUR")
    populate(store, products=PRODUCTS, orders=ORDERS, seed=7)
    visible = [order for _, order in store._visible_orders()]
    lines = sum(1 for o in visible for i in o["lineItems"] if i.get("product") and i["quantity"] > 0)
    store.throttle_next(3)
    store.rate_limit_next(1, retry_after=1)
    print(json.dumps({
        "admin_base_url": fake.admin_base_url(DOMAIN),
        "access_token": store.issue_access_token()["access_token"],
        "orders": len(visible),
        "lines": lines,
    }), flush=True)
    sys.stdin.read()
"""


@contextlib.contextmanager
def _fake_server_process():
    code = f"DOMAIN={DOMAIN!r}\nPRODUCTS={PRODUCTS}\nORDERS={ORDERS}\n" + _FAKE_SERVER
    process = subprocess.Popen(
        [sys.executable, "-c", code], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        yield json.loads(process.stdout.readline())
    finally:
        process.stdin.close()
        process.wait(timeout=30)


def main() -> None:
    os.environ.update(scratch_database_env("basketry_bench_sync", needs_dataset=False))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.core.management import call_command

    from integrations.models import SyncRun
    from integrations.services import sync_execute
    from integrations.shopify import sync
    from integrations.shopify.install import shopify_connect_with_token
    from shops.models import Order, OrderLine, Product
    from shops.tenancy import shop_scope

    call_command("migrate", verbosity=0)
    import recommendations.services.training as training
    from integrations.shopify.client import ShopifyClient

    # The sync alone is measured: the retraining it would queue is benchmarked by bench-quality.
    training.training_after_sync = lambda **kwargs: None
    waited = []
    real_wait = ShopifyClient._wait

    def recorded_wait(self, seconds):
        waited.append(seconds)
        real_wait(self, seconds)

    ShopifyClient._wait = recorded_wait
    ingest = {"seconds": 0.0, "lines": 0}
    real_ingest = sync._ingest

    def timed_ingest(run, shop, phase, lines):
        def counted():
            for line in lines:
                ingest["lines"] += 1
                yield line

        started = time.perf_counter()
        real_ingest(run, shop, phase, counted())
        ingest["seconds"] += time.perf_counter() - started

    sync._ingest = timed_ingest
    with _fake_server_process() as fake:
        shop = shopify_connect_with_token(
            domain=DOMAIN, access_token=fake["access_token"], admin_api_base_url=fake["admin_base_url"]
        )
        started = time.perf_counter()
        with shop_scope(shop):
            run = sync_execute(shop=shop, kind=SyncRun.Kind.FULL, wait=True, poll_seconds=0.2)
            wall = time.perf_counter() - started
            counts = (Product.objects.count(), Order.objects.count(), OrderLine.objects.count())
    expected_orders, expected_lines = fake["orders"], fake["lines"]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    expected = (PRODUCTS, expected_orders, expected_lines)
    print(f"fake store: {PRODUCTS:,} products, {expected_orders:,} orders, {expected_lines:,} order lines")
    print(f"stored:     {counts[0]:,} products, {counts[1]:,} orders, {counts[2]:,} order lines")
    print(
        f"full sync:  {wall:.1f} s wall, {run.requests_made} GraphQL requests, {run.throttled} throttled, "
        f"{sum(waited):.1f} s waiting on throttling and Retry-After"
    )
    print(
        f"JSONL ingest: {ingest['lines']:,} lines in {ingest['seconds']:.1f} s = "
        f"{ingest['lines'] / ingest['seconds']:,.0f} lines/s (parse, regroup by __parentId, upsert; after the download)"
    )
    print(f"peak RSS of the syncing process: {peak} MiB")
    if counts != expected or run.status != "succeeded":
        sys.exit(f"counts differ: expected {expected}, stored {counts} (run {run.status}: {run.error})")


if __name__ == "__main__":
    main()
