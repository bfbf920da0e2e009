"""Benchmark: one deployment, a fleet of shops in one PostgreSQL.

Creates a scratch database and a private Redis, then:

1. loads the fleet through the project's services (bench/fleet_data.py): by default 950 small
   shops (50-500 products, 100-3,000 orders), 45 medium (3,700 products, 20,000 orders), 5 large
   (50,000 products, 100,000 orders), plus `--online-retail N` shops imported from the UCI Online
   Retail file with `manage.py import_orders` when it is present;
2. trains a sample of the small and medium classes with `manage.py train` (wall time and peak
   RSS of that process; the large class is measured on its worker in step 3);
3. runs the nightly fan-out (`training_nightly_fan_out`) against the broker and counts what it
   queued on each queue, then retrains the whole fleet with real Celery workers (`-Q training
   --concurrency W` and `-Q training_large --concurrency 1`), sampling their RSS;
4. checks the throughput model on a subset: the same small shops retrained with one and with two
   worker processes;
5. shows that a large shop never delays small ones: big shops queued first, then small ones, once
   with everything on one queue and once with the large-shop routing;
6. sends Zipf-distributed storefront traffic (s = 1.1 over shops, uniform products within a shop,
   cold caches) with signed `products/update` webhooks for every shop, to gunicorn (2 threaded
   workers) and a Celery worker on the webhooks queue;
7. reports the database size per shop and class (each table's size shared out by its rows'
   bytes), Redis memory per shop, and the fleet retrain time for N training workers computed from
   the measured per-shop times.

Every phase prints the load average beside its figures: the machine may be shared.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres make bench-fleet
    DATABASE_URL=... python -m bench.fleet --small 100 --medium 3 --large 1 --traffic-seconds 30
"""

from __future__ import annotations

import argparse
import heapq
import http.client
import json
import math
import random
import re
import secrets
import statistics
import subprocess
import threading
import time
import uuid
from collections import Counter, defaultdict
from pathlib import Path
from urllib.parse import urlsplit

from bench.common import ONLINE_RETAIL, manage, scratch_database_env
from bench.fleet_data import ID_BLOCK, fleet_plan
from bench.processes import (
    SHOPIFY_SECRET,
    celery_worker_start,
    free_port,
    gunicorn_start,
    load_average,
    process_tree,
    redis_start,
    request_status,
    rss_mib,
    shopify_webhook_headers,
    stop,
)

LOG_DIR = Path("var/bench-fleet")
CLASS_OF_DOMAIN = re.compile(r"^(small|medium|large|retail)-")


def say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')} load {load_average()}] {text}", flush=True)


class Database:
    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.command = ["psql", "-At", "-F", "\t", "-h", parts.hostname or "127.0.0.1", "-p", str(parts.port or 5432)]
        self.command += ["-U", parts.username or "postgres", "-d", parts.path.lstrip("/"), "-c"]

    def rows(self, sql: str) -> list[list[str]]:
        output = subprocess.run([*self.command, sql], capture_output=True, text=True, check=True).stdout
        return [line.split("\t") for line in output.splitlines() if line]


def size_class(domain: str) -> str:
    match = CLASS_OF_DOMAIN.match(domain)
    return match.group(1) if match else "other"


def shell(env: dict, code: str) -> tuple[float, int, str]:
    return manage(env, "shell", "-c", code)


def runs_unfinished(db: Database) -> int:
    return int(db.rows("SELECT count(*) FROM recommendations_trainingrun WHERE status IN ('queued', 'running')")[0][0])


class MemorySampler:
    """RSS of every process of the given trees every few seconds; the peak per process."""

    def __init__(self, roots: dict[str, int], every: float = 2.0) -> None:
        self.roots, self.every = roots, every
        self.peaks: dict[str, float] = defaultdict(float)
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.done.is_set():
            for name, pid in self.roots.items():
                for member in process_tree(pid):
                    key = f"{name}:{'parent' if member == pid else member}"
                    self.peaks[key] = max(self.peaks[key], rss_mib(member))
            self.done.wait(self.every)

    def stop(self) -> dict[str, float]:
        self.done.set()
        self.thread.join()
        return dict(self.peaks)


def wait_for_trainings(db: Database, *, limit_seconds: float) -> float:
    started = time.perf_counter()
    while runs_unfinished(db) and time.perf_counter() - started < limit_seconds:
        time.sleep(1)
    return time.perf_counter() - started


def run_durations(db: Database, *, since: float) -> list[tuple[str, str, float, float, float]]:
    """(domain, status, seconds running, queued-to-started, epoch finished) of runs created after `since`."""
    rows = db.rows(
        "SELECT s.domain, r.status, extract(epoch FROM r.finished_at - r.started_at), "
        "extract(epoch FROM r.started_at - r.created_at), extract(epoch FROM r.finished_at) "
        "FROM recommendations_trainingrun r JOIN shops_shop s ON s.id = r.shop_id "
        f"WHERE r.created_at >= to_timestamp({since}) AND r.finished_at IS NOT NULL"
    )
    return [
        (domain, status, float(run or 0), float(wait or 0), float(end or 0)) for domain, status, run, wait, end in rows
    ]


def makespan(durations: list[float], workers: int) -> float:
    """Longest-first list scheduling: what N worker processes take for these trainings."""
    loads = [0.0] * workers
    heapq.heapify(loads)
    for duration in sorted(durations, reverse=True):
        heapq.heappush(loads, heapq.heappop(loads) + duration)
    return max(loads)


# Celery replaces a pool process after a task that left it above this resident size (KiB):
# training's arrays are freed, but the allocator keeps much of the peak.
MEMORY_LIMIT_KIB = {"training": 1024 * 1024, "training_large": 8 * 1024 * 1024}


def workers_for(env: dict, *, training: int, large: int, tag: str) -> list:
    started = []
    for queue, concurrency in (("training", training), ("training_large", large)):
        if concurrency:
            limit = ("--max-memory-per-child", str(MEMORY_LIMIT_KIB[queue]))
            log = LOG_DIR / f"{queue}-{tag}.log"
            started.append(
                celery_worker_start(
                    env, queues=queue, concurrency=concurrency, name=f"{queue}-{tag}", log=log, extra=limit
                )
            )
    return started


def zipf_traffic(port: int, shops: list[dict], *, seconds: float, clients: int, webhook_share: float) -> dict:
    """Closed loop: `clients` connections, each sending its next request when the last is answered."""
    rng = random.Random(3)
    order = list(range(len(shops)))
    rng.shuffle(order)  # which shop is most visited is independent of its size
    weights = [0.0] * len(shops)
    for rank, index in enumerate(order):
        weights[index] = 1.0 / (rank + 1) ** 1.1
    cumulative = []
    total = 0.0
    for weight in weights:
        total += weight
        cumulative.append(total)
    results: list[tuple[str, str, int, float]] = []
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def client(seed: int) -> None:
        local = random.Random(seed)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while time.perf_counter() < deadline:
            if local.random() < webhook_share:
                shop = local.choice(shops)  # webhooks come from every shop, not just the visited ones
                product = local.randrange(shop["products"])
                body = json.dumps(
                    {
                        "id": shop["index"] * ID_BLOCK + product,
                        "title": f"Renamed product {product}",
                        "handle": f"renamed-{product}",
                        "status": "active",
                        "product_type": "Category 0",
                        "updated_at": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
                        + f".{local.randrange(1000):03d}Z",
                        "variants": [{"id": 1, "price": "9.90", "inventory_quantity": 3, "inventory_policy": "deny"}],
                    }
                ).encode()
                headers = shopify_webhook_headers(
                    domain=shop["domain"], topic="products/update", body=body, webhook_id=str(uuid.uuid4())
                )
                kind, method, path = "webhook", "POST", "/webhooks/shopify"
            else:
                shop = shops[local.choices(range(len(shops)), cum_weights=cumulative, k=1)[0]]
                product = shop["index"] * ID_BLOCK + local.randrange(shop["products"])
                kind_of_list = local.choice(["related", "bought_together"])
                path = (
                    f"/api/storefront/v1/recommendations?shop={shop['domain']}&type={kind_of_list}&product_id={product}"
                )
                kind, method, body, headers = "storefront", "GET", None, {}
            began = time.perf_counter()
            connection, status = request_status(connection, method, path, body=body, headers=headers, timeout=30)
            with lock:
                results.append((kind, shop["class"], status, time.perf_counter() - began))

    threads = [threading.Thread(target=client, args=(seed,)) for seed in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    report: dict = {"wall_s": wall, "requests": len(results), "rate": len(results) / wall, "by": {}}
    groups: dict[tuple[str, str], list] = defaultdict(list)
    for kind, cls, status, elapsed in results:
        groups[(kind, cls)].append((status, elapsed))
        groups[(kind, "all")].append((status, elapsed))
    for (kind, cls), rows in sorted(groups.items()):
        latencies = sorted(elapsed for _, elapsed in rows)
        report["by"][f"{kind}/{cls}"] = {
            "requests": len(rows),
            "rate": len(rows) / wall,
            "p50_ms": latencies[len(latencies) // 2] * 1000,
            "p99_ms": latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))] * 1000,
            "errors": sum(1 for status, _ in rows if status != 200),
            "statuses": dict(Counter(status for status, _ in rows)),
        }
    return report


def redis_per_shop(redis_url: str, shop_ids: dict[int, str]) -> dict:
    """Bytes of every cache key, summed per shop (the keys start with the shop id) and per class."""
    import redis

    client = redis.Redis.from_url(redis_url)
    per_shop: dict[int, int] = defaultdict(int)
    other = 0
    keys = list(client.scan_iter(count=1000))
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        pipe = client.pipeline()
        for key in chunk:
            pipe.memory_usage(key)
        for key, size in zip(chunk, pipe.execute(), strict=True):
            match = re.search(rb":shop:(\d+):", key)
            if match and int(match.group(1)) in shop_ids:
                per_shop[int(match.group(1))] += size or 0
            else:
                other += size or 0
    by_class: dict[str, list[int]] = defaultdict(list)
    for shop_id, size in per_shop.items():
        by_class[size_class(shop_ids[shop_id])].append(size)
    info = client.info("memory")
    return {
        "used_memory_mb": info["used_memory"] / 2**20,
        "keys": len(keys),
        "shops_with_keys": len(per_shop),
        "other_keys_mb": other / 2**20,
        "per_shop_kb": {
            cls: {"shops": len(sizes), "mean": statistics.mean(sizes) / 1024, "max": max(sizes) / 1024}
            for cls, sizes in by_class.items()
        },
    }


def database_per_shop(db: Database) -> dict:
    """Each shop-owned table's total size (heap, indexes, TOAST) shared out by its rows' bytes."""
    tables = [
        name
        for (name,) in db.rows(
            "SELECT table_name FROM information_schema.columns "
            "WHERE table_schema = 'public' AND column_name = 'shop_id'"
        )
    ]
    domains = dict(db.rows("SELECT id, domain FROM shops_shop"))
    per_class_table: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    totals = {}
    for table in tables:
        total = int(db.rows(f"SELECT pg_total_relation_size('{table}')")[0][0])
        rows = db.rows(f"SELECT shop_id, sum(pg_column_size(t.*)), count(*) FROM {table} t GROUP BY shop_id")
        row_bytes = sum(int(size) for _, size, _ in rows) or 1
        totals[table] = total
        for shop_id, size, _count in rows:
            per_class_table[size_class(domains.get(shop_id, ""))][table] += total * int(size) / row_bytes
    counts = Counter(size_class(domain) for domain in domains.values())
    result = {"database_mb": int(db.rows("SELECT pg_database_size(current_database())")[0][0]) / 2**20}
    result["shop_tables_mb"] = sum(totals.values()) / 2**20
    result["per_shop_mb"] = {}
    for cls, per_table in per_class_table.items():
        biggest = sorted(per_table.items(), key=lambda item: -item[1])[:4]
        result["per_shop_mb"][cls] = {
            "shops": counts[cls],
            "mean": sum(per_table.values()) / counts[cls] / 2**20,
            "top_tables": {table: size / counts[cls] / 2**20 for table, size in biggest},
        }
    return result


def main() -> None:  # noqa: C901, PLR0915 - one phase after another, each reported as it ends
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=950)
    parser.add_argument("--medium", type=int, default=45)
    parser.add_argument("--large", type=int, default=5)
    parser.add_argument("--online-retail", type=int, default=2, help="shops imported from the UCI file (if present)")
    parser.add_argument("--workers", type=int, default=2, help="training worker processes for the fleet retrain")
    parser.add_argument("--retrain-limit", type=float, default=1800, help="seconds the fleet retrain may take")
    parser.add_argument("--traffic-seconds", type=float, default=60)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--skip-large-train", action="store_true", help="do not train the large class")
    options = parser.parse_args()
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    summary: dict = {"options": vars(options), "load_average_start": load_average()}

    redis_port = free_port()
    redis = redis_start(redis_port)
    redis_url = f"redis://127.0.0.1:{redis_port}/0"
    base_env = {
        **scratch_database_env("bench_fleet", needs_dataset=False),
        "SHOPIFY_API_KEY": "bench",
        "SHOPIFY_API_SECRET": SHOPIFY_SECRET,
        "SECRET_KEY": secrets.token_urlsafe(50),
    }
    db = Database(base_env["DATABASE_URL"])
    broker_env = {**base_env, "REDIS_URL": redis_url}
    try:
        manage(base_env, "migrate", "-v0")

        # 1. The fleet.
        summary["load"] = {}
        for cls, count in (("small", options.small), ("medium", options.medium), ("large", options.large)):
            if not count:
                continue
            seconds, peak, output = shell(
                base_env,
                "from bench.fleet_data import fleet_load; "
                f"fleet_load(small={options.small}, medium={options.medium}, large={options.large}, only='{cls}')",
            )
            row = json.loads(next(line[7:] for line in output.splitlines() if line.startswith("LOADED ")))
            summary["load"][cls] = {**row, "wall_s": seconds, "peak_rss_mib": peak}
            say(f"loaded {cls}: {row}, {seconds:.0f} s, peak RSS {peak} MiB")
        retail = options.online_retail if ONLINE_RETAIL.is_file() else 0
        if options.online_retail and not retail:
            say(f"UCI Online Retail file absent ({ONLINE_RETAIL}): no retail shops")
        for number in range(retail):
            domain = f"retail-{number:04d}.myshopify.com"
            manage(base_env, "create_shop", "--platform", "shopify", "--domain", domain, "--currency", "GBP")
            seconds, peak, _ = manage(
                base_env, "import_orders", domain, str(ONLINE_RETAIL), "--format", "online-retail"
            )
            summary["load"].setdefault("retail", []).append({"wall_s": seconds, "peak_rss_mib": peak})
            say(f"imported {domain} from the UCI file: {seconds:.0f} s, peak RSS {peak} MiB")
        sizes = db.rows(
            "SELECT s.domain, p.products, p.order_lines, p.paid_orders FROM shops_shop s "
            "JOIN recommendations_dataprofile p ON p.shop_id = s.id"
        )
        profiles = {domain: (int(products), int(lines), int(orders)) for domain, products, lines, orders in sizes}

        # 2. A sample of each class trained by `manage.py train`: wall time and peak RSS.
        samples = [spec.domain for spec in fleet_plan(small=options.small, medium=options.medium, large=options.large)]
        by_class: dict[str, list[str]] = defaultdict(list)
        for domain in samples:
            by_class[size_class(domain)].append(domain)
        chosen = []
        if by_class["small"]:
            smalls = sorted(by_class["small"], key=lambda d: profiles[d][1])
            chosen += [smalls[0], smalls[len(smalls) // 2], smalls[-1]]
        chosen += by_class["medium"][:1] + ([f"retail-{0:04d}.myshopify.com"] if retail else [])
        # The large class is measured in the fleet retrain below, alone on its own worker's pool
        # process (time and peak RSS): a second training of it here would add many minutes.
        summary["train_command"] = []
        for domain in chosen:
            seconds, peak, _ = manage(base_env, "train", domain)
            products, lines, orders = profiles[domain]
            summary["train_command"].append(
                {"domain": domain, "products": products, "order_lines": lines, "seconds": seconds, "peak_rss_mib": peak}
            )
            say(f"manage.py train {domain} ({products} products, {lines} lines): {seconds:.1f} s, peak RSS {peak} MiB")

        # 3. The nightly fan-out through the broker, then the whole fleet retrained by real workers.
        subprocess.run(["redis-cli", "-p", str(redis_port), "FLUSHALL"], check=True, capture_output=True)
        since = time.time() - 1
        seconds, _, output = shell(broker_env, "from bench.fleet_data import nightly_fan_out; nightly_fan_out()")
        fan_out = json.loads(next(line[7:] for line in output.splitlines() if line.startswith("FANOUT ")))
        queue_lengths = {
            name: int(
                subprocess.run(
                    ["redis-cli", "-p", str(redis_port), "LLEN", name], capture_output=True, text=True, check=True
                ).stdout
            )
            for name in ("training", "training_large")
        }
        summary["fan_out"] = {**fan_out, "process_s": seconds, "queues": queue_lengths}
        say(f"nightly fan-out: {fan_out}, queue lengths {queue_lengths}")
        if options.skip_large_train:
            subprocess.run(["redis-cli", "-p", str(redis_port), "DEL", "training_large"], check=True)
            db.rows(
                "UPDATE recommendations_trainingrun SET status = 'failed', error = 'bench: large class skipped' "
                "WHERE status = 'queued' AND shop_id IN (SELECT id FROM shops_shop WHERE domain LIKE 'large-%')"
            )
        started_workers = workers_for(broker_env, training=options.workers, large=1, tag="fleet")
        sampler = MemorySampler({"training": started_workers[0].pid, "training_large": started_workers[1].pid})
        wall = wait_for_trainings(db, limit_seconds=options.retrain_limit)
        peaks = sampler.stop()
        for worker in started_workers:
            stop(worker)
        runs = run_durations(db, since=since)
        per_class: dict[str, list[float]] = defaultdict(list)
        statuses = Counter((size_class(domain), status) for domain, status, *_ in runs)
        for domain, status, duration, *_ in runs:
            if status == "succeeded":
                per_class[size_class(domain)].append(duration)
        summary["fleet_retrain"] = {
            "wall_s": wall,
            "finished_in_limit": runs_unfinished(db) == 0,
            "workers": options.workers,
            "statuses": {f"{cls}/{status}": n for (cls, status), n in statuses.items()},
            "per_class_s": {
                cls: {
                    "runs": len(values),
                    "mean": statistics.mean(values),
                    "p50": statistics.median(values),
                    "max": max(values),
                    "sum": sum(values),
                }
                for cls, values in per_class.items()
            },
            "peak_rss_mib": peaks,
            "pool_processes_seen": Counter(name.split(":")[0] for name in peaks if not name.endswith(":parent")),
        }
        # Where a large shop's training spends its time, and what it chose (from the runs' reports).
        summary["fleet_retrain"]["large_runs"] = [
            {"domain": domain, "status": status, "timings": json.loads(timings or "null"), "error": error[:200]}
            for domain, status, timings, error in db.rows(
                "SELECT s.domain, r.status, r.report -> 'timings', r.error FROM recommendations_trainingrun r "
                "JOIN shops_shop s ON s.id = r.shop_id WHERE s.domain LIKE 'large-%' "
                f"AND r.created_at >= to_timestamp({since}) AND r.finished_at IS NOT NULL"
            )
        ]
        say(f"fleet retrain with {options.workers} + 1 (large) worker processes: {summary['fleet_retrain']}")
        if runs_unfinished(db):
            db.rows("UPDATE recommendations_trainingrun SET status = 'failed' WHERE status IN ('queued', 'running')")
        subprocess.run(["redis-cli", "-p", str(redis_port), "FLUSHALL"], check=True, capture_output=True)

        # 4. The model against real workers: the same small shops with one and with two processes.
        subset = sorted(by_class["small"], key=lambda d: profiles[d][1])[:: max(1, len(by_class["small"]) // 24)][:24]
        summary["concurrency_check"] = {}
        for concurrency in (1, 2):
            since = time.time() - 1
            shell(broker_env, f"from bench.fleet_data import trainings_queue; trainings_queue(domains={subset!r})")
            started_workers = workers_for(broker_env, training=concurrency, large=0, tag=f"check{concurrency}")
            wall = wait_for_trainings(db, limit_seconds=600)
            for worker in started_workers:
                stop(worker)
            durations = [duration for _, status, duration, *_ in run_durations(db, since=since)]
            summary["concurrency_check"][concurrency] = {
                "shops": len(subset),
                "wall_s": wall,
                "sum_of_runs_s": sum(durations),
                "model_s": makespan(durations, concurrency),
            }
            say(f"{len(subset)} small shops, --concurrency {concurrency}: {summary['concurrency_check'][concurrency]}")

        # 5. Large shops never delay small ones. The big shops here are medium ones made "large" by
        # the threshold (TRAINING_LARGE_SHOP_PRODUCTS=3000), so the demonstration takes minutes.
        bigs = by_class["medium"][:2] or by_class["large"][:2]
        smalls = subset[:8]
        summary["isolation"] = {}
        for routed in (False, True):
            threshold = "3000" if routed else str(10**9)
            env = {**broker_env, "TRAINING_LARGE_SHOP_PRODUCTS": threshold}
            since = time.time() - 1
            _, _, output = shell(
                env, f"from bench.fleet_data import trainings_queue; trainings_queue(domains={bigs + smalls!r})"
            )
            queued_at = float(next(line.split()[1] for line in output.splitlines() if line.startswith("QUEUED ")))
            started_workers = (
                workers_for(env, training=1, large=1, tag="routed")
                if routed
                else workers_for(env, training=2, large=0, tag="one-queue")
            )
            wait_for_trainings(db, limit_seconds=1200)
            for worker in started_workers:
                stop(worker)
            finished = {domain: end - queued_at for domain, _, _, _, end in run_durations(db, since=since)}
            label = "routed: training -c1 + training_large -c1" if routed else "one queue: training -c2"
            summary["isolation"][label] = {
                "small_last_done_s": max(finished[d] for d in smalls),
                "small_first_done_s": min(finished[d] for d in smalls),
                "big_last_done_s": max(finished[d] for d in bigs),
            }
            say(f"{label}: {summary['isolation'][label]}")

        # 6. Zipf storefront traffic and webhooks for every shop, cold caches.
        subprocess.run(["redis-cli", "-p", str(redis_port), "FLUSHALL"], check=True, capture_output=True)
        shop_rows = db.rows("SELECT id, domain FROM shops_shop")
        shop_ids = {int(shop_id): domain for shop_id, domain in shop_rows}
        plan = {
            spec.domain: spec for spec in fleet_plan(small=options.small, medium=options.medium, large=options.large)
        }
        shops = [
            {"domain": spec.domain, "index": spec.index, "products": spec.products, "class": spec.size_class}
            for spec in plan.values()
        ]
        port = free_port()
        server = gunicorn_start(broker_env, port)
        hooks = celery_worker_start(broker_env, queues="webhooks,default", concurrency=1, name="hooks")
        sampler = MemorySampler({"gunicorn": server.pid, "webhooks": hooks.pid})
        try:
            traffic = zipf_traffic(
                port, shops, seconds=options.traffic_seconds, clients=options.clients, webhook_share=0.1
            )
            traffic["load_average"] = load_average()
            time.sleep(5)
        finally:
            traffic["peak_rss_mib"] = sampler.stop()
            stop(server)
            stop(hooks)
        states = dict(db.rows("SELECT status, count(*) FROM integrations_webhookdelivery GROUP BY status"))
        traffic["deliveries"] = states
        summary["traffic"] = traffic
        say(f"Zipf traffic: {json.dumps(traffic, indent=1)}")
        summary["redis"] = redis_per_shop(redis_url, shop_ids)
        say(f"Redis: {json.dumps(summary['redis'], indent=1)}")
    finally:
        stop(redis)

    # 7. Sizes and the retrain model.
    summary["database"] = database_per_shop(db)
    say(f"database: {json.dumps(summary['database'], indent=1)}")
    # The default fleet's counts, and ten times them, at the per-class mean times measured above.
    counts = {"small": 950, "medium": 45, "large": 5}
    measured = summary["fleet_retrain"]["per_class_s"]
    summary["retrain_model_hours"] = {}
    for factor in (1, 10):
        durations = [
            measured[cls]["mean"] for cls in ("small", "medium") if cls in measured for _ in range(counts[cls] * factor)
        ]
        large = [measured["large"]["mean"]] * counts["large"] * factor if "large" in measured else []
        summary["retrain_model_hours"][f"{1000 * factor} shops"] = {
            "training": {n: makespan(durations, n) / 3600 for n in (1, 2, 4, 8, 16)} if durations else {},
            "training_large": {n: makespan(large, n) / 3600 for n in (1, 2, 5)} if large else {},
        }
    say(f"retrain model (hours): {summary['retrain_model_hours']}")
    summary["load_average_end"] = load_average()
    (LOG_DIR / "summary.json").write_text(json.dumps(summary, indent=1, default=str))
    print(f"summary: {LOG_DIR / 'summary.json'}")
    print(f"machine: {math.ceil(len(Path('/proc/cpuinfo').read_text().split('processor')) - 1)} CPUs")


if __name__ == "__main__":
    main()
