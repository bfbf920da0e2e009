"""Benchmark: quality and cost of a full training on the UCI Online Retail shop, end to end.

What an operator would run, on PostgreSQL: a scratch database, `create_shop`, `import_orders`,
`train --holdout-from 2011-11-01` (every candidate and baseline evaluated on the orders from
2011-11-01 to 2011-12-09, trained on the orders before), then `recommend` for a few products and
customers. Prints the evaluation table, the training's own timings, and the wall time and peak
resident memory of the `train` process.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres make bench-quality
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "datasets" / "online-retail" / "online_retail.csv.gz"
SCRATCH_DATABASE = "basketry_quality"
DOMAIN = "online-retail.quality"
HOLDOUT_FROM = "2011-11-01"


def manage(env: dict, *args: str) -> tuple[float, int, str]:
    """Run a management command; (seconds, peak RSS in MiB of that process, stdout)."""
    with tempfile.TemporaryFile(mode="w+") as stderr:
        started = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=stderr, text=True
        )
        stdout = process.stdout.read()
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - started
        if os.waitstatus_to_exitcode(status) != 0:
            stderr.seek(0)
            sys.exit(f"manage.py {' '.join(args)} failed:\n{stderr.read()}")
    return elapsed, usage.ru_maxrss // 1024, stdout


def main() -> None:
    server_url = os.environ.get("DATABASE_URL", "")
    if not server_url.startswith("postgres"):
        sys.exit("Set DATABASE_URL to a PostgreSQL server, e.g. postgres://postgres@127.0.0.1:5432/postgres")
    if not DATA.is_file():
        sys.exit(f"The UCI Online Retail file is not at {DATA}")
    parts = urlsplit(server_url)
    psql = ["psql", "-q", "-h", parts.hostname or "127.0.0.1", "-p", str(parts.port or 5432)]
    psql += ["-U", parts.username or "postgres", "-d", "postgres", "-c"]
    subprocess.run([*psql, f"DROP DATABASE IF EXISTS {SCRATCH_DATABASE}"], check=True)
    subprocess.run([*psql, f"CREATE DATABASE {SCRATCH_DATABASE}"], check=True)
    env = {
        **os.environ,
        "DATABASE_URL": urlunsplit(parts._replace(path=f"/{SCRATCH_DATABASE}")),
        "LOG_LEVEL": "WARNING",
        "OPENBLAS_NUM_THREADS": "1",
    }
    env.pop("REDIS_URL", None)
    manage(env, "migrate", "-v0")
    manage(
        env, "create_shop", "--platform", "csv", "--domain", DOMAIN, "--currency", "GBP", "--timezone", "Europe/London"
    )
    seconds, peak, out = manage(env, "import_orders", DOMAIN, str(DATA), "--format", "online-retail")
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


if __name__ == "__main__":
    main()
