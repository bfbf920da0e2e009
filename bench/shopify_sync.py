"""Benchmark: the Shopify sync of a large shop against the faithful fake Admin server, over loopback.

A scratch PostgreSQL database; a fake store with 10,000 products and 40,000 orders (about 100,000
line items) over the last 50 days. The fake holds every request to Shopify's published Admin
schema when it is installed (tests/fakes/shopify_schema.py), its scope rules and the 1,000-point
cost limit, charges a leaky bucket (2,000 points, 100 a second: a standard plan) and writes bulk
results ungrouped, children scattered before and after their parents.

1. Full sync: bulk operations, JSONL download and ingest, with throttling injected (THROTTLED
   responses and a 429 with Retry-After). Stored counts must equal the fake store's exactly.
2. Reconciliation after 1% of the products and 1% of the orders change: paged queries, with one
   request in ten answered THROTTLED. Every request the fake received must have asked for at
   most 1,000 points (the fake's own count), and the changes must be stored.

Prints wall times, JSONL ingest rate, requests, throttled responses and waits, the largest
requested cost, and peak RSS; exits non-zero if a check fails.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres make bench-sync
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
        .venv/bin/python -m bench.shopify_sync --products 500 --orders 2000
"""

from __future__ import annotations

import argparse
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
CHANGED_SHARE = 0.01
RECONCILE_THROTTLE_SHARE = 0.1
DOMAIN = "bench-sync.myshopify.com"


# The fake store runs in its own process, as Shopify would: in this one it would compete with the
# ingest for the interpreter lock and make the ingest look slower than it is. It takes commands on
# stdin, one a line, and answers each with one JSON line.
_FAKE_SERVER = """
import json, random, sys
from tests.fakes.shopify import FakeShopify, populate
with FakeShopify(client_id="bench", client_secret="bench-secret", bulk_polls_until_done=3) as fake:
    store = fake.add_store(DOMAIN, currency="EUR")
    populate(store, products=PRODUCTS, orders=ORDERS, seed=7)

    def visible():
        return [order for _, order in store._visible_orders()]

    def lines(orders):
        return sum(1 for o in orders for i in o["lineItems"] if i.get("product") and i["quantity"] > 0)

    store.throttle_next(3)
    store.rate_limit_next(1, retry_after=1)
    print(json.dumps({
        "admin_base_url": fake.admin_base_url(DOMAIN),
        "access_token": store.issue_access_token()["access_token"],
        "schema": fake.schema is not None,
        "orders": len(visible()),
        "lines": lines(visible()),
    }), flush=True)
    for command in sys.stdin:
        command = command.strip()
        if command == "change":
            rng = random.Random(8)
            products = rng.sample(sorted(store.products), max(1, int(len(store.products) * CHANGED_SHARE)))
            for product_id in products:
                product = store.products[product_id]
                store.touch_product(product_id, title=product["title"] + " (new)")
            # Refundable orders only: a test order stays a test order whatever its payment does.
            open_orders = [o for o in visible() if not o["cancelledAt"] and not o["test"]]
            orders = rng.sample(open_orders, max(1, int(len(visible()) * CHANGED_SHARE)))
            for order in orders:
                store.touch_order(int(order["legacyResourceId"]), displayFinancialStatus="REFUNDED")
            store.requests.clear()
            store.throttle_randomly(RECONCILE_THROTTLE_SHARE, seed=9)
            print(json.dumps({"products": [str(p) for p in products],
                              "orders": [o["legacyResourceId"] for o in orders]}), flush=True)
        elif command == "report":
            costs = [entry["requested_cost"] for entry in store.requests if "requested_cost" in entry]
            print(json.dumps({
                "requests": len(store.requests),
                "max_requested_cost": max(costs, default=0),
                "over_limit": sum(1 for cost in costs if cost > 1000),
                "orders": len(visible()),
                "lines": lines(visible()),
            }), flush=True)
"""


@contextlib.contextmanager
def _fake_server_process(products: int, orders: int):
    code = (
        f"DOMAIN={DOMAIN!r}\nPRODUCTS={products}\nORDERS={orders}\nCHANGED_SHARE={CHANGED_SHARE}\n"
        f"RECONCILE_THROTTLE_SHARE={RECONCILE_THROTTLE_SHARE}\n" + _FAKE_SERVER
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )

    def ask(command: str) -> dict:
        process.stdin.write(command + "\n")
        process.stdin.flush()
        return json.loads(process.stdout.readline())

    try:
        yield json.loads(process.stdout.readline()), ask
    finally:
        process.stdin.close()
        process.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--products", type=int, default=PRODUCTS)
    parser.add_argument("--orders", type=int, default=ORDERS)
    parser.add_argument("--database", default="basketry_bench_sync", help="scratch database (dropped first)")
    arguments = parser.parse_args()
    os.environ.update(scratch_database_env(arguments.database, needs_dataset=False))
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
    waited: list[float] = []
    real_wait = ShopifyClient._wait

    def recorded_wait(self, seconds):
        waited.append(seconds)
        real_wait(self, seconds)

    ShopifyClient._wait = recorded_wait
    ingest = {"seconds": 0.0, "lines": 0}
    real_ingest = sync._ingest

    def timed_ingest(run, shop, phase, lines, *, directory):
        def counted():
            for line in lines:
                ingest["lines"] += 1
                yield line

        started = time.perf_counter()
        real_ingest(run, shop, phase, counted(), directory=directory)
        ingest["seconds"] += time.perf_counter() - started

    sync._ingest = timed_ingest
    failures: list[str] = []
    with _fake_server_process(arguments.products, arguments.orders) as (fake, ask):
        shop = shopify_connect_with_token(
            domain=DOMAIN, access_token=fake["access_token"], admin_api_base_url=fake["admin_base_url"]
        )
        started = time.perf_counter()
        with shop_scope(shop):
            run = sync_execute(shop=shop, kind=SyncRun.Kind.FULL, wait=True, poll_seconds=0.2)
            wall = time.perf_counter() - started
            counts = (Product.objects.count(), Order.objects.count(), OrderLine.objects.count())
        full_waits = sum(waited)
        full_report = ask("report")
        expected = (arguments.products, fake["orders"], fake["lines"])
        print(f"schema validation: {'on' if fake['schema'] else 'OFF (the @shopify/dev-mcp package is missing)'}")
        print(f"fake store: {expected[0]:,} products, {expected[1]:,} orders, {expected[2]:,} order lines")
        print(f"stored:     {counts[0]:,} products, {counts[1]:,} orders, {counts[2]:,} order lines")
        print(
            f"full sync:  {wall:.1f} s wall, {run.requests_made} GraphQL requests, {run.throttled} throttled, "
            f"{full_waits:.1f} s waiting on throttling and Retry-After"
        )
        print(
            f"JSONL ingest: {ingest['lines']:,} lines in {ingest['seconds']:.1f} s = "
            f"{ingest['lines'] / max(ingest['seconds'], 1e-9):,.0f} lines/s "
            "(index on disk, join children on __parentId, upsert; after the download)"
        )
        if counts != expected or run.status != "succeeded":
            failures.append(f"full sync: expected {expected}, stored {counts} ({run.status}: {run.error})")
        if full_report["over_limit"]:
            failures.append(f"full sync: {full_report['over_limit']} requests over 1,000 points")

        changed = ask("change")
        waited.clear()
        started = time.perf_counter()
        with shop_scope(shop):
            again = sync_execute(shop=shop, kind=SyncRun.Kind.RECONCILE, wait=True, poll_seconds=0.2)
            reconcile_wall = time.perf_counter() - started
            renamed = Product.objects.filter(external_id__in=changed["products"], title__endswith=" (new)").count()
            refunded = Order.objects.filter(external_id__in=changed["orders"], status="refunded").count()
            counts = (Product.objects.count(), Order.objects.count(), OrderLine.objects.count())
        report = ask("report")
        print(
            f"reconciliation after {len(changed['products']):,} products and {len(changed['orders']):,} orders "
            f"changed (1%): {reconcile_wall:.1f} s wall, {again.requests_made} GraphQL requests "
            f"({report['requests']} seen by the fake), {again.throttled} throttled, {sum(waited):.1f} s waiting; "
            f"largest requested cost {report['max_requested_cost']} points, {report['over_limit']} over 1,000"
        )
        print(f"peak RSS of the syncing process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024} MiB")
        if again.status != "succeeded":
            failures.append(f"reconciliation {again.status}: {again.error}")
        if report["over_limit"] or report["max_requested_cost"] > 1000:
            failures.append(f"reconciliation sent {report['over_limit']} requests over 1,000 points")
        if (renamed, refunded) != (len(changed["products"]), len(changed["orders"])):
            failures.append(f"reconciliation stored {renamed} renamed products and {refunded} refunded orders")
        if counts != (arguments.products, report["orders"], report["lines"]):
            failures.append(f"after reconciliation: stored {counts}, fake has {report}")
    if failures:
        sys.exit("\n".join(failures))


if __name__ == "__main__":
    main()
