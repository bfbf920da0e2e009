"""Benchmark: WooCommerce full and incremental sync from the fake store, with faults injected.

A scratch PostgreSQL database; the fake WooCommerce store (`tests/fakes/woocommerce.py`) in its
own process over plain http (OAuth 1.0a), with 5,000 products (a fifth of them variable, with
their variations) and 50,000 orders; 2% of REST requests answer 503 and one answers with a
Cloudflare challenge page. The full sync runs in this process and is resumed from its checkpoint
whenever it stops on a retryable error, as the Celery task would. Counts are then checked exactly
against the fake store. Then 1% of products and 1% of orders change and a reconciliation runs.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres make bench-woocommerce
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

PRODUCTS = 5_000
ORDERS = 50_000

_FAKE_STORE = """
import json, sys, threading, time
from tests.fakes.woocommerce import FakeWooCommerce
with FakeWooCommerce(seed=11, currency="EUR") as fake:
    fake.populate(products=PRODUCTS, orders=ORDERS, seed=11)
    key, secret = fake.add_key()
    def counts():
        orders = [o for o in fake.orders.values() if o["status"] != "checkout-draft"]
        lines = sum(1 for o in orders for i in o["line_items"] if i.get("product_id") and i["quantity"] > 0)
        variations = sum(len(v) for v in fake.variations.values())
        return {"products": len(fake.products), "variations": variations, "orders": len(orders), "lines": lines}
    print(json.dumps({"url": fake.base_url, "key": key, "secret": secret, "product_ids": list(fake.products),
                      **counts()}), flush=True)
    for line in sys.stdin:
        command = line.split()
        if command[0] == "faults":
            fake.fail_randomly(float(command[1]))
            def challenge_later(after=int(command[2])):
                while len(fake.requests) < after:
                    time.sleep(0.01)
                fake.challenge_next(1)
            threading.Thread(target=challenge_later, daemon=True).start()
        elif command[0] == "quiet":
            fake.fail_randomly(0.0)
        elif command[0] == "touch":
            for product_id in list(fake.products)[: int(command[1])]:
                fake.update_product(product_id, name=fake.products[product_id]["name"] + " (new)")
            for order_id in list(fake.orders)[: int(command[2])]:
                fake.update_order(order_id, status="completed")
        elif command[0] == "requests":
            pass
        print(json.dumps({"requests": len(fake.requests), **counts()}), flush=True)
"""


@contextlib.contextmanager
def _fake_store():
    code = f"PRODUCTS={PRODUCTS}\nORDERS={ORDERS}\n" + _FAKE_STORE
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
    os.environ.update(scratch_database_env("basketry_bench_woocommerce", needs_dataset=False))
    os.environ["WOOCOMMERCE_ALLOW_INSECURE_HTTP"] = "1"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.core.management import call_command

    import recommendations.services.training as training
    from integrations.services import sync_execute
    from integrations.woocommerce.client import WooCommerceError
    from integrations.woocommerce.connect import _shop_store_keys
    from shops.models import Order, OrderLine, Product
    from shops.tenancy import shop_scope

    call_command("migrate", verbosity=0)
    # The sync alone is measured: the retraining it would queue is benchmarked by bench-quality.
    training.training_after_sync = lambda **kwargs: None

    with _fake_store() as (store, ask):
        shop = _shop_store_keys(
            store_url=store["url"],
            consumer_key=store["key"],
            consumer_secret=store["secret"],
            key_id=1,
            plugin_key=None,
        )
        ask("faults 0.02 300")
        resumes = 0
        started = time.perf_counter()
        with shop_scope(shop):
            while True:
                try:
                    run = sync_execute(shop=shop, kind="full")
                    break
                except WooCommerceError as error:
                    if not error.retryable:
                        raise
                    resumes += 1
            full_wall = time.perf_counter() - started
            synced_products = set(Product.objects.values_list("external_id", flat=True))
            counts = {
                "orders": Order.objects.count(),
                "lines": OrderLine.objects.count(),
            }
        after_full = ask("quiet")
        changed = ask(f"touch {PRODUCTS // 100} {ORDERS // 100}")
        started = time.perf_counter()
        with shop_scope(shop):
            incremental = sync_execute(shop=shop, kind="reconcile")
        incremental_wall = time.perf_counter() - started
        after_incremental = ask("requests")

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(
        f"fake store: {store['products']:,} products ({store['variations']:,} variations), "
        f"{store['orders']:,} orders, {store['lines']:,} order lines; 2% of requests 503, one challenge page"
    )
    print(
        f"full sync:  {full_wall:.1f} s wall, {after_full['requests']:,} requests to the store, "
        f"{resumes} resume(s) from the checkpoint (backoff on 503s included in the wall time)"
    )
    print(
        f"stored:     {len(synced_products):,} products (incl. placeholders for deleted ones), "
        f"{counts['orders']:,} orders, {counts['lines']:,} order lines"
    )
    print(
        f"incremental after {PRODUCTS // 100} products and {ORDERS // 100} orders changed: "
        f"{after_incremental['requests'] - changed['requests']} requests, {incremental_wall:.1f} s, "
        f"{incremental.products_synced} products and {incremental.orders_synced} orders written"
    )
    print(f"peak RSS of the syncing process: {peak} MiB")
    missing = {str(pid) for pid in store["product_ids"]} - synced_products
    ok = (
        counts["orders"] == store["orders"]
        and counts["lines"] == store["lines"]
        and not missing
        and run.status == "succeeded"
    )
    if not ok:
        sys.exit(f"counts differ from the store's: {counts} vs {store}")


if __name__ == "__main__":
    main()
