"""Benchmark: storefront recommendations throughput and latency against /livez, same server, same run.

Creates a scratch PostgreSQL database, loads and trains the demo shop, starts gunicorn with two
sync workers on PostgreSQL + Redis, warms the caches, then runs wrk against `/livez` and against
the recommendations endpoint (requests spread over every product of the shop, a Lua script
picking the product id per request), and prints requests/s and latency percentiles of both.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379/2 make bench-serving

Needs `wrk` (Debian package) on the PATH.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.request

from bench.common import manage, scratch_database_env
from bench.processes import gunicorn_start, stop

PORT = 8765
DURATION = "20s"
CONNECTIONS = 16
SHOP = "demo-store.localhost"


def wrk(url: str, script: str | None = None) -> tuple[float, dict[str, str]]:
    command = ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{DURATION}", "--latency", url]
    if script:
        command[1:1] = ["-s", script]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    latency = dict(re.findall(r"^\s+(50|75|90|99)%\s+(\S+)", output, flags=re.MULTILINE))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if errors:
        sys.exit(f"{url}: {errors.group(1)} failed responses\n{output}")
    return rate, latency


def main() -> None:
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (apt-get install -y wrk)")
    if not os.environ.get("REDIS_URL"):
        sys.exit("Set REDIS_URL, e.g. redis://127.0.0.1:6379/2")
    redis_url = os.environ["REDIS_URL"]
    env = {**scratch_database_env("basketry_serving"), "REDIS_URL": redis_url}
    manage(env, "migrate", "-v0")
    # Tasks run eagerly in this process for the set-up; the server below uses Redis.
    setup_env = {key: value for key, value in env.items() if key != "REDIS_URL"}
    manage(setup_env, "demo", "--skip-online-retail")
    _, _, ids = manage(
        setup_env,
        "shell",
        "-c",
        "from shops.models import Product; print('\\n'.join(Product.all_shops.filter(status='published')"
        ".values_list('external_id', flat=True)))",
    )
    product_ids = re.findall(r"^P\d+$", ids, flags=re.MULTILINE)
    subprocess.run(["redis-cli", "-u", redis_url, "FLUSHDB"], check=True, capture_output=True)

    server = gunicorn_start(env, PORT, workers=2, threads=1, worker_class="sync")
    try:
        base = f"http://127.0.0.1:{PORT}"
        path = f"/api/storefront/v1/recommendations?shop={SHOP}&type=related&limit=8&product_id="
        for product_id in product_ids:  # warm Redis (both workers then warm their own LRU)
            urllib.request.urlopen(f"{base}{path}{product_id}", timeout=5).read()
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
            script.write("ids = {" + ",".join(f'"{value}"' for value in product_ids) + "}\n")
            script.write(f'request = function() return wrk.format("GET", "{path}" .. ids[math.random(#ids)]) end\n')
        livez_rate, livez_latency = wrk(f"{base}/livez")
        rec_rate, rec_latency = wrk(base, script.name)
        os.unlink(script.name)
    finally:
        stop(server)
    print(f"gunicorn 2 sync workers, wrk -t2 -c{CONNECTIONS} -d{DURATION}, {len(product_ids)} products")
    print(f"/livez:           {livez_rate:8.0f} req/s, latency p50 {livez_latency['50']}, p99 {livez_latency['99']}")
    print(f"recommendations:  {rec_rate:8.0f} req/s, latency p50 {rec_latency['50']}, p99 {rec_latency['99']}")
    print(f"ratio: {rec_rate / livez_rate:.2f} of /livez")


if __name__ == "__main__":
    main()
