"""Benchmark: a mixed soak. Every answer is what it should be, and memory stays flat.

gunicorn (2 threaded workers) and one Celery worker (queues webhooks, default and sync; no beat)
on a scratch PostgreSQL database and two private Redis instances laid out as docs/OPERATIONS.md
recommends: the broker's (no eviction) and the cache's (`maxmemory` with `allkeys-lru`). The shops: the demo shop,
the UCI Online Retail shop when its file is present, and a generated Shopify shop. For the whole
run an open-loop generator sends, at a fixed rate, storefront recommendations of every type
(related, bought together, cart; personal through a customer token and through the App Proxy),
widget events (with a page token, and through the App Proxy), signed Shopify webhooks
(`products/update`, `orders/create`, and re-sent duplicates), `/livez` and `/readyz`, plus a few
requests whose answer must be a 4xx (unknown shop, bad parameters). Before it, a warm-up fills each
web process's bounded in-process list cache (4,096 entries), then sends the same mixed traffic for
`--warm-up-minutes`, so that every code path has run once in every process and the measured run
is the steady state rather than first use. Every 10 s, warm-up included, it reads the RSS of every
gunicorn and Celery process. At the end: answers outside the expected ones, warm-up included
(must be 0), memory of the measured run's first minute against its last (and per minute from the
start of the warm-up), and the webhook deliveries' states (all done).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres make bench-soak            # 10 minutes
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres python -m bench.soak --minutes 1
"""

from __future__ import annotations

import argparse
import http.client
import json
import queue
import random
import secrets
import statistics
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from pathlib import Path

from bench.common import ONLINE_RETAIL, manage, scratch_database_env
from bench.processes import (
    SHOPIFY_SECRET,
    app_proxy_query,
    celery_worker_start,
    free_port,
    gunicorn_start,
    load_average,
    process_tree,
    redis_info,
    redis_start,
    request_status,
    rss_mib,
    shopify_webhook_headers,
    stop,
)

SHOPIFY_DOMAIN = "soak-shop.myshopify.com"
SENDERS = 24
SAMPLE_SECONDS = 10
# The cache instance's memory limit: small, so that a 10-minute run reaches it and evicts.
CACHE_MAXMEMORY = "64mb"
# Growth of the summed RSS from the first to the last minute below which memory counts as flat.
FLAT_PERCENT = 3.0

# One line of JSON per shop: what the generator needs to build valid requests.
SETUP = """
import json, time
from recommendations.storefront.identity import customer_token_sign
from recommendations.storefront.page_tokens import PAGE_TOKEN_LIFETIME_SECONDS
from shops.demo import DEMO_DOMAIN, demo_orders_end
from shops.demo.generator import demo_shop_generate
from shops.models import Product, Shop
from shops.services.demo import demo_shop_load
from shops.services.shops import shop_create, shop_storefront_token_key_get
from shops.tenancy import shop_scope

shopify, _ = shop_create(platform="shopify", domain="%(shopify)s", currency="EUR")
shopify_demo = demo_shop_generate(seed=5, product_count=400, order_count=5000)
with shop_scope(shopify):
    demo_shop_load(shop=shopify, demo=shopify_demo)
demo_customers = {
    DEMO_DOMAIN: demo_shop_generate(end=demo_orders_end()).orders,
    shopify.domain: shopify_demo.orders,
}
expires = int(time.time()) + PAGE_TOKEN_LIFETIME_SECONDS
for shop in Shop.objects.order_by("pk"):
    with shop_scope(shop):
        products = list(Product.objects.filter(status="published").values_list("external_id", flat=True)[:3000])
    key = shop_storefront_token_key_get(shop=shop)
    orders = demo_customers.get(shop.domain, ())
    customers = sorted({order.customer_id for order in orders if order.customer_id})[:500] or ["12345"]
    print("SHOP " + json.dumps({
        "domain": shop.domain, "platform": shop.platform, "products": products, "key": key,
        "customers": customers,
        "customer_tokens": [
            customer_token_sign(key=key, domain=shop.domain, customer_id=c, expires=expires) for c in customers[:100]
        ],
    }))
"""


class Generator:
    """Builds the next request of the mix; each kind names the statuses it may get."""

    def __init__(self, shops: list[dict], seed: int = 1) -> None:
        self.rng = random.Random(seed)
        self.shops = shops
        self.shopify = next(shop for shop in shops if shop["platform"] == "shopify")
        self.sent_webhooks: list[tuple[str, bytes, dict]] = []
        self.next_product = 900000
        self.next_order = 5000000
        self.lock = threading.Lock()
        self.mix = [
            ("recommendations", 55, self.recommendations),
            ("personal", 6, self.personal),
            ("proxy_recommendations", 6, self.proxy_recommendations),
            ("events", 6, self.events),
            ("proxy_events", 3, self.proxy_events),
            ("webhook_product", 8, self.webhook_product),
            ("webhook_order", 6, self.webhook_order),
            ("webhook_duplicate", 2, self.webhook_duplicate),
            ("livez", 3, lambda: ("GET", "/livez", None, {}, {200})),
            ("readyz", 3, lambda: ("GET", "/readyz", None, {}, {200})),
            ("expected_4xx", 2, self.bad_request),
        ]
        self.weights = [weight for _, weight, _ in self.mix]

    def next(self) -> tuple[str, tuple]:
        with self.lock:
            kind, _, build = self.rng.choices(self.mix, weights=self.weights)[0]
            return kind, build()

    def _address(self) -> str:
        return f"198.18.{self.rng.randrange(256)}.{self.rng.randrange(1, 255)}"

    def recommendations(self) -> tuple:
        shop = self.rng.choice(self.shops)
        kind = self.rng.choice(["related", "bought_together", "cart"])
        product = self.rng.choice(shop["products"])
        query = f"shop={shop['domain']}&type={kind}&product_id={product}&limit=8"
        if kind == "cart":
            query += "&cart=" + ",".join(self.rng.sample(shop["products"], 2))
        return "GET", f"/api/storefront/v1/recommendations?{query}", None, {}, {200}

    def personal(self) -> tuple:
        shop = self.rng.choice([shop for shop in self.shops if shop["platform"] != "shopify"])
        token = self.rng.choice(shop["customer_tokens"])
        query = f"shop={shop['domain']}&type=personal&customer_token={token}&limit=6"
        return "GET", f"/api/storefront/v1/recommendations?{query}", None, {}, {200}

    def _proxy_params(self, **extra: str) -> dict[str, str]:
        return {
            "shop": self.shopify["domain"],
            "logged_in_customer_id": self.rng.choice(["", *self.shopify["customers"][:50]]),
            "path_prefix": "/apps/basketry",
            "timestamp": str(int(time.time())),
            **extra,
        }

    def proxy_recommendations(self) -> tuple:
        kind = self.rng.choice(["personal", "related", "bought_together"])
        params = self._proxy_params(type=kind, limit="6")
        if kind != "personal":
            params["product_id"] = self.rng.choice(self.shopify["products"])
        elif not params["logged_in_customer_id"]:
            params["product_id"] = self.rng.choice(self.shopify["products"])
            params["type"] = "related"
        return "GET", f"/proxy/recommendations?{app_proxy_query(params)}", None, {}, {200}

    def _event_list(self, shop: dict) -> list[dict]:
        events = []
        for _ in range(self.rng.randint(1, 5)):
            anchor, product = self.rng.sample(shop["products"], 2)
            kind = self.rng.choice(["impression", "impression", "click", "add_to_cart"])
            block = self.rng.choice(["related", "bought_together", "cart"])
            events.append({"type": kind, "block": block, "product_id": product, "anchor_id": anchor})
        return events

    def events(self) -> tuple:
        from recommendations.storefront.page_tokens import PAGE_TOKEN_LIFETIME_SECONDS, page_token_sign

        shop = self.rng.choice([shop for shop in self.shops if shop["platform"] != "shopify"])
        token = page_token_sign(
            key=shop["key"], domain=shop["domain"], expires=int(time.time()) + PAGE_TOKEN_LIFETIME_SECONDS
        )
        body = json.dumps({"shop": shop["domain"], "page_token": token, "events": self._event_list(shop)}).encode()
        headers = {"Content-Type": "text/plain", "X-Forwarded-For": self._address()}
        return "POST", "/api/storefront/v1/events", body, headers, {202}

    def proxy_events(self) -> tuple:
        body = json.dumps({"events": self._event_list(self.shopify)}).encode()
        headers = {"Content-Type": "text/plain", "X-Forwarded-For": self._address()}
        return "POST", f"/proxy/events?{app_proxy_query(self._proxy_params())}", body, headers, {202}

    def _webhook(self, topic: str, payload: dict) -> tuple:
        body = json.dumps(payload).encode()
        headers = shopify_webhook_headers(
            domain=self.shopify["domain"], topic=topic, body=body, webhook_id=str(uuid.uuid4())
        )
        self.sent_webhooks.append((topic, body, headers))
        del self.sent_webhooks[:-500]
        return "POST", "/webhooks/shopify", body, headers, {200}

    def webhook_product(self) -> tuple:
        # Mostly updates of products webhooks created before, sometimes a new one.
        if self.next_product == 900000 or self.rng.random() < 0.2:
            self.next_product += 1
        product_id = self.rng.randint(900001, self.next_product)
        now = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + f".{self.rng.randrange(1000):03d}Z"
        return self._webhook(
            "products/update",
            {
                "id": product_id,
                "title": f"Soak product {product_id}",
                "handle": f"soak-product-{product_id}",
                "status": "active",
                "vendor": "Soak",
                "product_type": self.rng.choice(["Kitchen", "Garden", "Desk"]),
                "tags": "soak, linen",
                "body_html": "<p>" + "A sturdy everyday product. " * 10 + "</p>",
                "created_at": "2026-01-01T00:00:00Z",
                "updated_at": now,
                "variants": [
                    {"id": product_id * 10 + n, "price": "19.90", "inventory_quantity": 5, "inventory_policy": "deny"}
                    for n in range(2)
                ],
            },
        )

    def webhook_order(self) -> tuple:
        self.next_order += 1
        products = self.rng.sample(range(900001, max(self.next_product, 900003) + 1), 2)
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        lines = [
            {
                "id": self.next_order * 10 + n,
                "product_id": product,
                "variant_id": product * 10,
                "quantity": 1,
                "price": "19.90",
                "title": f"Soak product {product}",
            }
            for n, product in enumerate(products)
        ]
        return self._webhook(
            "orders/create",
            {
                "id": self.next_order,
                "created_at": now,
                "updated_at": now,
                "financial_status": "paid",
                "currency": "EUR",
                "total_price": "39.80",
                "test": False,
                "customer": {"id": self.rng.randint(1, 2000)},
                "line_items": lines,
            },
        )

    def webhook_duplicate(self) -> tuple:
        if not self.sent_webhooks:
            return self.webhook_product()
        _, body, headers = self.rng.choice(self.sent_webhooks)
        return "POST", "/webhooks/shopify", body, headers, {200}

    def bad_request(self) -> tuple:
        shop = self.rng.choice(self.shops)
        path, status = self.rng.choice(
            [
                ("/api/storefront/v1/recommendations?shop=nobody.example&type=related&product_id=P1", 404),
                (f"/api/storefront/v1/recommendations?shop={shop['domain']}&type=sideways&product_id=P1", 400),
                (f"/api/storefront/v1/recommendations?shop={shop['domain']}&type=related&limit=x&product_id=P1", 400),
            ]
        )
        return "GET", path, None, {}, {status}


def _run_load(port: int, generator: Generator, *, rate: float, seconds: float, results: list) -> None:
    jobs: queue.Queue = queue.Queue(maxsize=SENDERS * 4)
    lock = threading.Lock()

    def sender() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
        while True:
            job = jobs.get()
            if job is None:
                return
            due, kind, (method, path, body, headers, expected) = job
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            connection, status = request_status(connection, method, path, body=body, headers=headers, timeout=15)
            elapsed = time.perf_counter() - due
            with lock:
                results.append((kind, status, status in expected, elapsed))

    threads = [threading.Thread(target=sender, daemon=True) for _ in range(SENDERS)]
    for thread in threads:
        thread.start()
    start = time.perf_counter() + 0.2
    total = int(rate * seconds)
    for index in range(total):
        kind, request = generator.next()
        jobs.put((start + index / rate, kind, request))
    for _ in threads:
        jobs.put(None)
    for thread in threads:
        thread.join()


def _warm_up(port: int, generator: Generator, *, requests: int) -> Counter:
    """Storefront lists as fast as the server answers, until every web process's bounded in-process
    cache (LOCAL_ENTRIES) is full: from then on a process's memory is what it stays at."""
    statuses: Counter = Counter()
    lock = threading.Lock()
    remaining = iter(range(requests))

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while True:
            with lock:
                if next(remaining, None) is None:
                    return
                method, path, body, headers, _ = generator.recommendations()
            connection, status = request_status(connection, method, path, body=body, headers=headers, timeout=30)
            with lock:
                statuses[status] += 1

    threads = [threading.Thread(target=client) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


def _sample_memory(roots: dict[str, int], stop_event: threading.Event, samples: list) -> None:
    started = time.perf_counter()
    while not stop_event.is_set():
        reading = {}
        for name, pid in roots.items():
            for member in process_tree(pid):
                reading[f"{name}:{member}"] = rss_mib(member)
        samples.append((time.perf_counter() - started, reading))
        stop_event.wait(SAMPLE_SECONDS)


def _deliveries(env: dict) -> dict[str, int]:
    _, _, output = manage(
        env,
        "shell",
        "-c",
        "import json; from django.db.models import Count; from integrations.models import WebhookDelivery; "
        "print('STATES ' + json.dumps(dict(WebhookDelivery.all_shops.values_list('status')"
        ".annotate(n=Count('pk')).values_list('status', 'n'))))",
    )
    line = next(line for line in output.splitlines() if line.startswith("STATES "))
    return json.loads(line[len("STATES ") :])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=40.0, help="requests per second, all kinds together")
    parser.add_argument(
        "--warm-up", type=int, default=12_000, help="storefront requests before the measured run (fills the caches)"
    )
    parser.add_argument(
        "--warm-up-minutes", type=float, default=2.0, help="mixed traffic after those, before the measured run"
    )
    parser.add_argument("--skip-online-retail", action="store_true")
    options = parser.parse_args()

    redis_port, cache_port = free_port(), free_port()
    redis = redis_start(redis_port, "--maxmemory-policy", "noeviction")
    cache_redis = redis_start(cache_port, "--maxmemory", CACHE_MAXMEMORY, "--maxmemory-policy", "allkeys-lru")
    redis_url, cache_url = f"redis://127.0.0.1:{redis_port}/0", f"redis://127.0.0.1:{cache_port}/0"
    env = {
        **scratch_database_env("bench_soak", needs_dataset=False),
        "SHOPIFY_API_KEY": "bench",
        "SHOPIFY_API_SECRET": SHOPIFY_SECRET,
        "TRUSTED_PROXIES": "127.0.0.1/32",
        "SECRET_KEY": secrets.token_urlsafe(50),
    }
    log_dir = Path("var/bench-soak")
    log_dir.mkdir(parents=True, exist_ok=True)
    try:
        started = time.perf_counter()
        manage(env, "migrate", "-v0")
        with_retail = ONLINE_RETAIL.is_file() and not options.skip_online_retail
        manage(env, "demo", *([] if with_retail else ["--skip-online-retail"]))
        _, _, output = manage(env, "shell", "-c", SETUP % {"shopify": SHOPIFY_DOMAIN})
        manage(env, "train", SHOPIFY_DOMAIN)
        shops = [json.loads(line[5:]) for line in output.splitlines() if line.startswith("SHOP ")]
        print(
            f"set-up {time.perf_counter() - started:.0f} s: "
            + ", ".join(f"{shop['domain']} ({len(shop['products'])} products)" for shop in shops)
            + ("" if with_retail else "; UCI Online Retail skipped")
        )

        env = {**env, "REDIS_URL": redis_url, "CACHE_REDIS_URL": cache_url}
        server = gunicorn_start(env, port := free_port())
        worker = celery_worker_start(
            env, queues="webhooks,default,sync", concurrency=2, name="soak", log=log_dir / "worker.log"
        )
        generator = Generator(shops)
        samples: list = []
        stop_event = threading.Event()
        sampler = threading.Thread(
            target=_sample_memory, args=({"gunicorn": server.pid, "celery": worker.pid}, stop_event, samples)
        )
        results: list = []
        loads = [load_average()]
        try:
            warm_started = time.perf_counter()
            warm = _warm_up(port, generator, requests=options.warm_up)
            print(
                f"warm-up: {sum(warm.values())} storefront requests in {time.perf_counter() - warm_started:.0f} s, "
                f"statuses {dict(warm)}"
            )
            sampler.start()
            warm_results: list = []
            _run_load(port, generator, rate=options.rate, seconds=options.warm_up_minutes * 60, results=warm_results)
            warm_errors = Counter((kind, status) for kind, status, ok, _ in warm_results if not ok)
            print(
                f"mixed warm-up: {len(warm_results)} requests in {options.warm_up_minutes:g} min, "
                f"{sum(warm_errors.values())} unexpected answers {dict(warm_errors) if warm_errors else ''}"
            )
            measured_from = len(samples)
            _run_load(port, generator, rate=options.rate, seconds=options.minutes * 60, results=results)
            loads.append(load_average())
            # Let the worker finish what the last seconds queued.
            for _ in range(60):
                states = _deliveries(env)
                if set(states) <= {"done"}:
                    break
                time.sleep(2)
        finally:
            stop_event.set()
            if sampler.is_alive():
                sampler.join()
            stop(server)
            stop(worker)
        redis_memory = {
            name: (info["used_memory_human"], info.get("evicted_keys", "0"))
            for name, url in (("broker", redis_url), ("cache", cache_url))
            for info in [{**redis_info(url, "memory"), **redis_info(url, "stats")}]
        }
    finally:
        stop(redis)
        stop(cache_redis)

    errors_before = sum(warm_errors.values())
    _report(options, results, samples[measured_from:], samples, states, loads, redis_memory, errors_before)


def _report(options, results, samples, all_samples, states, loads, redis_memory, warm_up_errors: int) -> None:
    by_kind: dict[str, list] = defaultdict(list)
    for kind, status, ok, elapsed in results:
        by_kind[kind].append((status, ok, elapsed))
    errors = [(kind, status) for kind, status, ok, _ in results if not ok]
    print(
        f"{options.minutes:g} min at {options.rate:g} req/s: {len(results)} requests, "
        f"{len(errors)} unexpected answers {dict(Counter(errors)) if errors else ''}"
    )
    print(f"load average before / after: {loads[0]} / {loads[-1]}")
    for kind, rows in sorted(by_kind.items()):
        latencies = sorted(elapsed for _, _, elapsed in rows)
        statuses = dict(Counter(status for status, _, _ in rows))
        p50 = latencies[len(latencies) // 2] * 1000
        p99 = latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))] * 1000
        print(f"  {kind:22} {len(rows):6}  p50 {p50:7.1f} ms  p99 {p99:7.1f} ms  statuses {statuses}")
    print(
        f"webhook deliveries by state: {states}; Redis at the end (used_memory, evicted keys): "
        + ", ".join(f"{name} {used} / {evicted}" for name, (used, evicted) in redis_memory.items())
    )

    # Flat memory: the first minute's mean against the last minute's, per process and in total.
    def window(first: bool) -> dict[str, float]:
        span = [reading for at, reading in samples if (at <= 60 if first else at >= samples[-1][0] - 60)]
        names = set().union(*span) if span else set()
        return {name: statistics.mean(reading.get(name, 0.0) for reading in span) for name in names}

    start = samples[0][0]
    samples = [(at - start, reading) for at, reading in samples]
    first, last = window(True), window(False)
    series = []
    for minute in range(int(all_samples[-1][0] // 60) + 1):
        span = [reading for at, reading in all_samples if minute * 60 <= at < (minute + 1) * 60]
        if span:
            series.append(f"{statistics.mean(sum(reading.values()) for reading in span):.0f}")
    print(
        f"  RSS of all processes per minute from the start of the mixed warm-up "
        f"({options.warm_up_minutes:g} min, then the run) (MiB): {' '.join(series)}"
    )
    for name in sorted(set(first) | set(last)):
        before, after = first.get(name, 0.0), last.get(name, 0.0)
        growth = (after - before) / before * 100 if before else float("inf")
        print(f"  RSS {name:18} first minute {before:7.1f} MiB  last minute {after:7.1f} MiB  {growth:+6.1f}%")
    total_before, total_after = sum(first.values()), sum(last.values())
    print(
        f"  RSS all processes   first minute {total_before:7.1f} MiB  last minute {total_after:7.1f} MiB  "
        f"{(total_after - total_before) / total_before * 100:+6.1f}%  ({len(samples)} samples every {SAMPLE_SECONDS} s)"
    )
    growth = (total_after - total_before) / total_before * 100
    all_done = set(states) <= {"done"}
    unexpected = len(errors) + warm_up_errors
    print(
        f"verdict: {unexpected} errors (warm-up included), memory {'flat' if growth < FLAT_PERCENT else 'GROWING'} "
        f"({growth:+.1f}%, flat below {FLAT_PERCENT}%), deliveries {'all done' if all_done else 'NOT all done'}"
    )
    if unexpected or growth >= FLAT_PERCENT or not all_done:
        sys.exit(1)


if __name__ == "__main__":
    main()
