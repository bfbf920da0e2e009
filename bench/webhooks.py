"""Benchmark: Shopify webhook ingress latency (verify HMAC + record + enqueue) at a fixed rate.

gunicorn (4 sync workers; BENCH_WORKERS to change) on a scratch PostgreSQL database with Redis as the Celery broker (no
worker consumes, so only the ingress is measured). An open-loop generator sends signed
`products/update` and `orders/create` deliveries at 200 per second for 30 s, each with its own
webhook id, and measures every response from the moment the request was due, so a slow server
cannot hide its queueing. Then checks that every delivery was recorded exactly once.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379/2 make bench-webhooks
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import os
import queue
import statistics
import subprocess
import sys
import threading
import time
import uuid

from bench.common import manage, scratch_database_env
from bench.processes import gunicorn_start, stop

PORT = 8766
WORKERS = int(os.environ.get("BENCH_WORKERS", "4"))
THREADS = int(os.environ.get("BENCH_THREADS", "1"))
RATE = 200
SECONDS = 30
SENDERS = 32
DOMAIN = "bench-hooks.myshopify.com"
SECRET = "bench-webhook-secret-of-32-bytes-or-more"


def _body(index: int) -> tuple[str, bytes]:
    if index % 2:
        lines = [
            {
                "id": 9000 + n,
                "product_id": 1000 + (index + n) % 500,
                "variant_id": 1,
                "title": f"Item {n}",
                "quantity": 1 + n % 3,
                "price": "19.90",
            }
            for n in range(1 + index % 4)
        ]
        order = {
            "id": 500000 + index,
            "created_at": "2026-11-20T10:00:00Z",
            "updated_at": "2026-11-20T10:00:05Z",
            "financial_status": "paid",
            "currency": "EUR",
            "total_price": "59.70",
            "test": False,
            "email": "shopper@example.com",
            "customer": {"id": 7000 + index % 900, "email": "shopper@example.com"},
            "line_items": lines,
        }
        return "orders/create", json.dumps(order).encode()
    product = {
        "id": 1000 + index % 500,
        "title": f"Product {index % 500}",
        "handle": f"product-{index % 500}",
        "status": "active",
        "vendor": "Acme",
        "product_type": "Kitchen",
        "tags": "linen, kitchen",
        "body_html": "<p>" + "A sturdy everyday product. " * 20 + "</p>",
        "created_at": "2026-01-01T00:00:00Z",
        "updated_at": f"2026-11-20T10:{index // 60 % 60:02d}:{index % 60:02d}Z",
        "variants": [
            {"id": n, "price": "19.90", "inventory_quantity": 5, "inventory_policy": "deny"} for n in range(3)
        ],
    }
    return "products/update", json.dumps(product).encode()


def _headers(topic: str, body: bytes) -> dict[str, str]:
    digest = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()
    return {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": digest,
        "X-Shopify-Shop-Domain": DOMAIN,
        "X-Shopify-Api-Version": "2026-10",
        "X-Shopify-Webhook-Id": str(uuid.uuid4()),
        "X-Shopify-Triggered-At": "2026-11-20T10:00:05.000Z",
    }


def _load(total: int) -> tuple[list[float], list[int], float]:
    jobs: queue.Queue = queue.Queue()
    latencies: list[float] = []
    failures: list[int] = []
    lock = threading.Lock()
    requests = []
    for index in range(total):
        topic, body = _body(index)
        requests.append((body, _headers(topic, body)))

    def sender() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", PORT, timeout=10)
        while True:
            job = jobs.get()
            if job is None:
                return
            due, (body, headers) = job
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            try:
                connection.request("POST", "/webhooks/shopify", body=body, headers=headers)
                response = connection.getresponse()
                response.read()
                status = response.status
            except OSError:
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", PORT, timeout=10)
                status = 0
            elapsed = time.perf_counter() - due
            with lock:
                latencies.append(elapsed)
                if status != 200:
                    failures.append(status)

    threads = [threading.Thread(target=sender, daemon=True) for _ in range(SENDERS)]
    for thread in threads:
        thread.start()
    start = time.perf_counter() + 0.5
    for index, request in enumerate(requests):
        jobs.put((start + index / RATE, request))
    for _ in threads:
        jobs.put(None)
    for thread in threads:
        thread.join()
    return latencies, failures, time.perf_counter() - start


def main() -> None:
    if not os.environ.get("REDIS_URL"):
        sys.exit("Set REDIS_URL, e.g. redis://127.0.0.1:6379/2")
    env = {
        **scratch_database_env("basketry_bench_webhooks", needs_dataset=False),
        "REDIS_URL": os.environ["REDIS_URL"],
        "SHOPIFY_API_KEY": "bench",
        "SHOPIFY_API_SECRET": SECRET,
    }
    manage(env, "migrate", "-v0")
    manage(env, "create_shop", "--platform", "shopify", "--domain", DOMAIN, "--currency", "EUR")
    subprocess.run(["redis-cli", "-u", env["REDIS_URL"], "FLUSHDB"], check=True, capture_output=True)
    # Several threads make gunicorn's worker threaded, as gunicorn itself does; one keeps it sync.
    server = gunicorn_start(
        env, PORT, workers=WORKERS, threads=THREADS, worker_class="gthread" if THREADS > 1 else "sync"
    )
    try:
        _load(RATE * 2)  # warm-up: imports, connections, first queries
        total = RATE * SECONDS
        latencies, failures, wall = _load(total)
    finally:
        stop(server)
    _, _, recorded = manage(
        env, "shell", "-c", "from integrations.models import WebhookDelivery; print(WebhookDelivery.all_shops.count())"
    )
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))] * 1000

    print(
        f"gunicorn {WORKERS} workers x {THREADS} threads, {total} signed deliveries at {RATE}/s "
        f"({total / wall:.0f}/s achieved)"
    )
    print(
        f"latency from due time: p50 {pct(50):.1f} ms, p90 {pct(90):.1f} ms, p99 {pct(99):.1f} ms, "
        f"max {latencies[-1] * 1000:.1f} ms, mean {statistics.mean(latencies) * 1000:.1f} ms"
    )
    stored = recorded.strip().splitlines()[-1]
    print(
        f"non-200 answers: {len(failures)}; deliveries recorded: {stored} of {total + RATE * 2} sent (warm-up included)"
    )


if __name__ == "__main__":
    main()
