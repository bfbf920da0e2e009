"""Benchmark: the storefront at catalogue size, cold, with inventory webhooks flowing, against /livez.

For each shop asked for (`demo`, `uci`, `large`; default all three), on a scratch PostgreSQL
database of its own:
1. set-up: the demo shop (270 products), the UCI Online Retail shop (≈3.7k products, 20k orders)
   or a synthetic shop of 50,000 products (bench/fleet_data.py's large class), trained; each as a
   Shopify shop whose product ids are Shopify's numeric ids, so that products/update deliveries
   reach them. BENCH_KEEP=1 reuses a database set up by an earlier run;
2. cold start: a private Redis (flushed), fresh gunicorn (2 sync workers) and Celery workers (the
   training worker niced, as docs/OPERATIONS.md advises), measured once the workers answer a ping;
3. miss cost: 300 sequential requests for random products, each read for the first time,
   with the server's own time from the `Server-Timing` header: first from fresh processes that
   did not warm up (STOREFRONT_WARM_SECONDS=0, the pack and the facts loading beside the reads),
   then, Redis flushed again, from the fresh processes measured below, which warmed up;
4. load: wrk (-t2 -c16) windows, one product drawn uniformly from the whole catalogue per
   request by the same Lua script for every window (/livez ignores the id): related (cold), then
   three windows each of related and of bought together, each between two /livez windows and
   its ratio to their mean (a kind's ratio: the median of its three), while signed
   products/update deliveries toggling a random product's stock arrive at 2 per second through
   the ingress and a Celery worker;
5. publish under load: 2-second wrk windows, related and /livez in turn, while a new training
   runs on the worker and after its version goes live, each labelled training, publishing (the
   transaction), switch (the first two after the commit) or after (BENCH_PUBLISH_LARGE=0 skips
   this for the large shop, whose training takes seven to ten minutes on an idle machine);
6. the deliveries' outcome checked in the database, memory of the web workers and of Redis.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres make bench-serving
    DATABASE_URL=... .venv/bin/python -m bench.serving uci large   # some of the shops

BENCH_SECONDS sets the length of a window (default 10), BENCH_LARGE_PRODUCTS the large shop's
size (default 50000). Results also go to var/bench-serving.json (BENCH_OUT). Needs `wrk`.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from urllib.parse import urlsplit, urlunsplit

from bench.common import ONLINE_RETAIL, manage, results_write, scratch_database_env
from bench.fleet import Database
from bench.processes import (
    SHOPIFY_SECRET,
    celery_worker_start,
    celery_workers_ready,
    free_port,
    gunicorn_start,
    load_average,
    process_tree,
    redis_info,
    redis_start,
    rss_mib,
    shopify_webhook_headers,
    stop,
)

SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
# Windows of each list kind after the cold one.
REPEATS = 3
LARGE_PRODUCTS = int(os.environ.get("BENCH_LARGE_PRODUCTS", "50000"))
CONNECTIONS = 16
HOOKS_PER_SECOND = 2
PROBES = 300
TRAINING_NICENESS = 10
DOMAINS = {"demo": "bench-demo.myshopify.com", "uci": "bench-uci.myshopify.com", "large": "bench-large.myshopify.com"}
RECOMMENDATIONS = "/api/storefront/v1/recommendations?shop={domain}&type={kind}&limit=8&product_id="
LIVEZ = "/livez?product_id="
# Shopify's product ids are numbers: the demo and UCI products are renumbered from here.
FIRST_ID = 7_000_000_000
BENCH_KEY = "bench-serving-" + "k" * 40


def say(text: str) -> None:
    print(text, flush=True)


# -- set-up ------------------------------------------------------------------------------------


def _as_shopify(domain_before: str, domain: str) -> str:
    return f"""
from django.db.models import CharField, F
from django.db.models.functions import Cast
from shops.models import Product, Shop
shop = Shop.objects.get(domain={domain_before!r})
Product.all_shops.filter(shop=shop).update(external_id=Cast(F("id") + {FIRST_ID}, output_field=CharField()))
Shop.objects.filter(pk=shop.pk).update(platform="shopify", domain={domain!r})
"""


def setup(shop: str, env: dict) -> float:
    """Load and train the shop; returns the seconds it took."""
    started = time.perf_counter()
    manage(env, "migrate", "-v0")
    domain = DOMAINS[shop]
    if shop == "demo":
        manage(env, "demo", "--skip-online-retail")
        manage(env, "shell", "-c", _as_shopify("demo-store.localhost", domain))
    elif shop == "uci":
        if not ONLINE_RETAIL.is_file():
            sys.exit(f"The UCI Online Retail file is not at {ONLINE_RETAIL}")
        manage(env, "create_shop", "--platform", "csv", "--domain", "uci.bench", "--currency", "GBP")
        manage(env, "import_orders", "uci.bench", str(ONLINE_RETAIL), "--format", "online-retail", "--no-train")
        manage(env, "shell", "-c", _as_shopify("uci.bench", domain))
    else:
        code = (
            "from bench.fleet_data import ShopSpec, shop_load; "
            f"shop_load(ShopSpec({domain!r}, 'large', 1, {LARGE_PRODUCTS}, {LARGE_PRODUCTS * 2}, 3.0))"
        )
        manage(env, "shell", "-c", code)
    manage(env, "train", domain)
    return time.perf_counter() - started


# -- load --------------------------------------------------------------------------------------


def wrk(url: str, seconds: int, script: str | None = None) -> dict:
    # A long timeout: wrk's default (2 s) leaves slower answers out of its percentiles.
    command = ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{seconds}s", "--timeout", "30s", "--latency", url]
    if script:
        command[1:1] = ["-s", script]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    failed = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if failed:
        sys.exit(f"{url}: {failed.group(1)} failed responses\n{output}")
    if "Socket errors" in output:
        sys.exit(f"{url}: requests failed or timed out\n{output}")
    latency = dict(re.findall(r"^\s+(50|75|90|99)%\s+(\S+)", output, flags=re.MULTILINE))
    return {
        "rate": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        **{f"p{key}_ms": _milliseconds(value) for key, value in latency.items()},
    }


def _milliseconds(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", value).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def lua_script(path: str, ids: list[str]) -> str:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write("ids = {" + ",".join(f'"{value}"' for value in ids) + "}\n")
        # Each wrk thread has its own Lua state: seeded alike, they would ask for the same products.
        script.write("local threads = 0\n")
        script.write("function setup(thread) threads = threads + 1; thread:set('seed', threads) end\n")
        script.write("function init(args) math.randomseed(seed * 7919 + os.time()) end\n")
        script.write(f'request = function() return wrk.format("GET", "{path}" .. ids[math.random(#ids)]) end\n')
    return script.name


class Deliveries(threading.Thread):
    """Signed products/update deliveries at HOOKS_PER_SECOND, each setting a random product in or
    out of stock; remembers the last state sent per product."""

    def __init__(self, port: int, domain: str, ids: list[str]) -> None:
        super().__init__(daemon=True)
        self.port, self.domain, self.ids = port, domain, ids
        self.sent, self.accepted = 0, 0
        self.last: dict[str, bool] = {}
        self.running = threading.Event()
        self.running.set()
        self.random = random.Random(7)

    def run(self) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        due = time.monotonic()
        while self.running.is_set():
            product = self.random.choice(self.ids)
            in_stock = not self.last.get(product, True)
            body = json.dumps(
                {
                    "id": int(product),
                    "title": f"Product {product}",
                    "handle": f"product-{product}",
                    "status": "active",
                    "product_type": "Bench",
                    "updated_at": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + f".{self.sent % 1000:03d}Z",
                    "variants": [{"id": 1, "price": "9.90", "inventory_quantity": 3 if in_stock else 0}],
                }
            ).encode()
            headers = shopify_webhook_headers(
                domain=self.domain, topic="products/update", body=body, webhook_id=str(uuid.uuid4())
            )
            connection.request("POST", "/webhooks/shopify", body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            self.sent += 1
            if response.status == 200:
                self.accepted += 1
                self.last[product] = in_stock
            due += 1 / HOOKS_PER_SECOND
            time.sleep(max(0.0, due - time.monotonic()))

    def stop(self) -> None:
        self.running.clear()
        self.join(timeout=30)


def probe(port: int, path: str, ids: list[str]) -> dict:
    """Sequential requests for these products: the server's time by where the list came from."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    by_source: dict[str, list[float]] = {}
    client = []
    for product in ids:
        started = time.perf_counter()
        connection.request("GET", path + product)
        response = connection.getresponse()
        response.read()
        client.append((time.perf_counter() - started) * 1000)
        match = re.match(r'list;desc="(\w+)";dur=([\d.]+)', response.getheader("Server-Timing", ""))
        if response.status != 200 or not match:
            sys.exit(f"probe {product}: {response.status} {response.getheader('Server-Timing')}")
        by_source.setdefault(match.group(1), []).append(float(match.group(2)))
    return {
        "client": _distribution(client),
        **{f"server_{source}": _distribution(values) for source, values in sorted(by_source.items())},
    }


def _distribution(values: list[float]) -> dict:
    values = sorted(values)

    def at(share: float) -> float:
        return round(values[min(len(values) - 1, int(share * len(values)))], 2)

    return {"n": len(values), "p50_ms": at(0.5), "p90_ms": at(0.9), "p99_ms": at(0.99), "max_ms": round(values[-1], 2)}


def drained(db: Database, *, limit: float = 120) -> float:
    """Seconds until no delivery waits for the worker."""
    started = time.monotonic()
    while time.monotonic() - started < limit:
        waiting = db.rows("SELECT count(*) FROM integrations_webhookdelivery WHERE status NOT IN ('done', 'failed')")
        if waiting[0][0] == "0":
            break
        time.sleep(0.5)
    return round(time.monotonic() - started, 1)


def deliveries_outcome(db: Database, deliveries: Deliveries, *, since: str) -> dict:
    """What became of the deliveries received since `since` (a database timestamp): a database
    kept from an earlier run (BENCH_KEEP=1) holds that run's too."""
    wait = drained(db)
    states = dict(
        db.rows(
            "SELECT status, count(*) FROM integrations_webhookdelivery "
            f"WHERE received_at >= '{since}'::timestamptz GROUP BY status"
        )
    )
    wrong = 0
    if deliveries.last:
        ids = ",".join(f"'{product}'" for product in deliveries.last)
        stored = dict(db.rows(f"SELECT external_id, in_stock FROM shops_product WHERE external_id IN ({ids})"))
        wrong = sum(stored.get(product) != ("t" if in_stock else "f") for product, in_stock in deliveries.last.items())
    return {
        "sent": deliveries.sent,
        "accepted": deliveries.accepted,
        "states": states,
        "products_not_as_last_sent": wrong,
        "drain_s": wait,
    }


PUBLISH_WINDOW_SECONDS = 2
PUBLISH_WINDOWS_AFTER = 6


def publish_under_load(env: dict, db: Database, base: str, script: str, livez: str, domain: str) -> list[dict]:
    """Short windows, the list's alternating with /livez's, while a new training runs and after its
    version goes live, each labelled by what it overlapped, from the database's own timestamps:
    `training` (before the publishing transaction), `publishing` (the transaction: the lists
    written, the pack built and written), `switch` (the first windows after the commit, while the
    web processes load the new pack) and `after`. The training and its transaction share the two
    cores with the storefront; what they do to any request shows in /livez's windows beside."""
    live = db.rows("SELECT id FROM recommendations_modelversion WHERE status = 'live'")[0][0]
    last_run = db.rows("SELECT coalesce(max(id), 0) FROM recommendations_trainingrun")[0][0]
    manage(env, "shell", "-c", f"from bench.fleet_data import trainings_queue; trainings_queue(domains=[{domain!r}])")
    windows, after = [], 0
    started = time.monotonic()
    while after < PUBLISH_WINDOWS_AFTER and time.monotonic() - started < 1800:
        target = "livez" if len(windows) % 2 else "related"
        begun = time.time()
        window = wrk(base, PUBLISH_WINDOW_SECONDS, livez if target == "livez" else script)
        window |= {"target": target, "from_s": begun, "to_s": time.time()}
        now = db.rows("SELECT id FROM recommendations_modelversion WHERE status = 'live'")[0][0]
        after += now != live
        windows.append(window)
        ended = db.rows(
            f"SELECT status, promoted, error FROM recommendations_trainingrun WHERE id > {int(last_run)} "
            "AND status IN ('failed', 'succeeded')"
        )
        if ended and now == live:
            status, promoted, error = ended[0]
            if status == "failed" or promoted != "t":
                raise RuntimeError(f"the training under load published nothing: {status} {error[:300]}")
    (began, committed), *_ = db.rows(
        "SELECT extract(epoch FROM v.created_at), extract(epoch FROM r.finished_at) "
        "FROM recommendations_modelversion v JOIN recommendations_trainingrun r ON r.id = v.training_run_id "
        f"WHERE v.status = 'live' AND v.id <> {int(live)}"
    )
    began, committed = float(began), float(committed)
    switched = 0
    for window in windows:
        if window["to_s"] < began:
            window["phase"] = "training"
        elif window["from_s"] <= committed:
            window["phase"] = "publishing"
        else:
            window["phase"] = "switch" if switched < 2 else "after"
            switched += 1
        say(f"    publish {window['phase']:10} {window['target']:7} {window['rate']:7.0f} req/s "
            f"p99 {window['p99_ms']:7.2f} ms")  # fmt: skip
    first = windows[0]["from_s"]
    for window in windows:
        window["from_s"], window["to_s"] = round(window["from_s"] - first, 1), round(window["to_s"] - first, 1)
    return windows


def bench_shop(shop: str, keep: bool) -> dict:
    name = f"basketry_bench_serving_{shop}"
    domain = DOMAINS[shop]
    database_env, reused = _database_env(name, keep)
    # One key for set-up and serving (stored secrets are encrypted with it), kept across runs
    # for BENCH_KEEP; a scratch database's, nothing else's.
    env = {**database_env, "SHOPIFY_API_KEY": "bench", "SHOPIFY_API_SECRET": SHOPIFY_SECRET, "SECRET_KEY": BENCH_KEY}
    db = Database(env["DATABASE_URL"])
    result: dict = {"shop": shop, "load_average_start": load_average()}
    if not reused:
        result["setup_s"] = round(setup(shop, env), 1)
    ids = [row[0] for row in db.rows("SELECT external_id FROM shops_product WHERE status = 'published'")]
    result["products"] = len(ids)
    say(f"{shop}: {len(ids)} published products, {domain}")

    redis_port = free_port()
    redis = redis_start(redis_port)
    served = {**env, "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0"}
    drawn = random.Random(3).sample(ids, min(PROBES, len(ids)))
    path = RECOMMENDATIONS.format(domain=domain, kind="related")
    # First reads of processes that did not warm up (as for a shop a process did not warm): the
    # reads beside the background loads of the pack and the facts.
    port = free_port()
    unwarmed = gunicorn_start(
        {**served, "STOREFRONT_WARM_SECONDS": "0"}, port, workers=2, threads=1, worker_class="sync"
    )
    try:
        result["miss_unwarmed"] = probe(port, path, drawn)
        say(f"  first reads, no warm-up: {json.dumps(result['miss_unwarmed'])}")
    finally:
        stop(unwarmed)
    subprocess.run(["redis-cli", "-u", served["REDIS_URL"], "FLUSHALL"], check=True, capture_output=True)
    port = free_port()
    started = time.monotonic()
    server = gunicorn_start(served, port, workers=2, threads=1, worker_class="sync")
    result["web_ready_s"] = round(time.monotonic() - started, 1)
    hooks = celery_worker_start(served, queues="webhooks,default", concurrency=1, name="hooks")
    # Niced, as docs/OPERATIONS.md asks of training workers on a host that also serves the storefront.
    training = celery_worker_start(
        {**served, "OPENBLAS_NUM_THREADS": "1"},
        queues="training,training_large",
        concurrency=1,
        name="training",
        niceness=TRAINING_NICENESS,
    )
    result["workers_ready_s"] = round(celery_workers_ready(served, ["hooks", "training"]), 1)
    base = f"http://127.0.0.1:{port}"
    scripts = {
        kind: lua_script(RECOMMENDATIONS.format(domain=domain, kind=kind), ids)
        for kind in ("related", "bought_together")
    }
    # /livez is driven by the same script with the same random ids (it ignores them), so that
    # wrk's own work per request, on the same two cores, is the same on both sides of the ratio.
    scripts["livez"] = lua_script(LIVEZ, ids)
    try:
        result["miss"] = probe(port, path, drawn)
        say(f"  first reads, warmed up in {result['web_ready_s']} s: {json.dumps(result['miss'])}")
        deliveries = Deliveries(port, domain, ids)
        since = db.rows("SELECT now()")[0][0]
        deliveries.start()
        # Each list window between two /livez windows, its ratio to their mean: the machine's
        # speed drifts over minutes (by 15% between windows a minute apart, on a shared host),
        # and a ratio to a far-off window would measure that drift. Three windows of each kind
        # after the cold one; a kind's ratio is the median of its windows'.
        windows: dict[str, dict] = {}
        order = ["livez_0", "related_cold", "livez_1"]
        for kind in ("related", "bought_together"):
            for repeat in range(1, REPEATS + 1):
                order += [f"{kind}_{repeat}", f"livez_{len(order) // 2 + 1}"]
        for label in order:
            script = scripts["livez" if label.startswith("livez") else label.rsplit("_", 1)[0]]
            windows[label] = wrk(base, SECONDS, script)
            say(f"  {label:18} {windows[label]['rate']:7.0f} req/s p50 {windows[label]['p50_ms']:6.2f} ms "
                f"p99 {windows[label]['p99_ms']:6.2f} ms")  # fmt: skip
        result["windows"] = windows
        ratios = {
            label: windows[label]["rate"]
            / statistics.mean([windows[order[index - 1]]["rate"], windows[order[index + 1]]["rate"]])
            for index, label in enumerate(order)
            if not label.startswith("livez")
        }
        result["window_ratios"] = {label: round(ratio, 2) for label, ratio in ratios.items()}
        result["ratios"] = {"related_cold": result["window_ratios"]["related_cold"]} | {
            kind: round(statistics.median(ratio for label, ratio in ratios.items() if label[:-2] == kind), 2)
            for kind in ("related", "bought_together")
        }
        result["p99_ms"] = {
            kind: sorted(windows[label]["p99_ms"] for label in windows if label[:-2] == kind)
            for kind in ("related", "bought_together", "livez")
        }
        say(f"  ratio to /livez: {result['ratios']} (windows {result['window_ratios']}); p99 {result['p99_ms']}")
        if shop != "large" or os.environ.get("BENCH_PUBLISH_LARGE", "1") != "0":
            result["publish"] = publish_under_load(served, db, base, scripts["related"], scripts["livez"], domain)
        deliveries.stop()
        result["deliveries"] = deliveries_outcome(db, deliveries, since=since)
        say(f"  deliveries: {json.dumps(result['deliveries'])}")
        workers = [pid for pid in process_tree(server.pid) if pid != server.pid]
        result["web_worker_rss_mib"] = [round(rss_mib(pid)) for pid in workers]
        result["redis_used_mib"] = round(int(redis_info(served["REDIS_URL"], "memory")["used_memory"]) / 2**20, 1)
        say(f"  web workers RSS {result['web_worker_rss_mib']} MiB, Redis {result['redis_used_mib']} MiB")
    finally:
        for script in scripts.values():
            os.unlink(script)
        for process in (server, hooks, training, redis):
            stop(process)
    result["load_average_end"] = load_average()
    return result


def _database_env(name: str, keep: bool) -> tuple[dict, bool]:
    """The scratch database's environment, and whether it holds a trained shop to reuse."""
    if keep:
        parts = urlsplit(os.environ.get("DATABASE_URL", ""))
        env = {**os.environ, "DATABASE_URL": urlunsplit(parts._replace(path=f"/{name}")), "LOG_LEVEL": "WARNING"}
        env["OPENBLAS_NUM_THREADS"] = "1"
        env.pop("REDIS_URL", None)
        if _trained(Database(env["DATABASE_URL"])):
            return env, True
    return scratch_database_env(name, needs_dataset=False), False


def _trained(db: Database) -> bool:
    try:
        return db.rows("SELECT count(*) FROM recommendations_modelversion WHERE status = 'live'")[0][0] == "1"
    except subprocess.CalledProcessError:
        return False


def main() -> None:
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (apt-get install -y wrk)")
    shops = sys.argv[1:] or ["demo", "uci", "large"]
    unknown = [shop for shop in shops if shop not in DOMAINS]
    if unknown:
        sys.exit(f"unknown shop(s) {unknown}: choose from {list(DOMAINS)}")
    keep = os.environ.get("BENCH_KEEP") == "1"
    say(f"gunicorn 2 sync workers, wrk -t2 -c{CONNECTIONS} {SECONDS}s windows, {HOOKS_PER_SECOND} webhooks/s")
    results = [bench_shop(shop, keep) for shop in shops]
    say(f"results in {results_write(results, default_name='bench-serving.json')}")


if __name__ == "__main__":
    main()
