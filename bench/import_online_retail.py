"""Benchmark: import the full UCI Online Retail file (541,909 lines) into PostgreSQL.

Creates a scratch database, migrates it, creates a shop and runs `import_orders` twice as a
separate process, reporting wall time and peak resident memory of each run. The second run must
import 0 orders. Results go into docs/BENCHMARKS.md by hand.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres make bench-import

DATABASE_URL names the server (any database on it); the scratch database is `basketry_bench`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "datasets" / "online-retail" / "online_retail.csv.gz"
SCRATCH_DATABASE = "basketry_bench"
DOMAIN = "online-retail.bench"


def scratch_url(server_url: str) -> str:
    parts = urlsplit(server_url)
    return urlunsplit(parts._replace(path=f"/{SCRATCH_DATABASE}"))


def psql(server_url: str, sql: str) -> None:
    parts = urlsplit(server_url)
    subprocess.run(
        [
            "psql",
            "-q",
            "-h",
            parts.hostname or "127.0.0.1",
            "-p",
            str(parts.port or 5432),
            "-U",
            parts.username or "postgres",
            "-d",
            "postgres",
            "-c",
            sql,
        ],
        check=True,
    )


def manage(env: dict, *args: str) -> tuple[float, int, str]:
    """Run a management command; return (seconds, peak RSS in MiB of that very process, stdout)."""
    # stderr goes to a file so that a chatty process cannot fill a pipe nobody reads while stdout
    # is read; os.wait4 then reaps this one child and gives its own resource usage.
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

    psql(server_url, f"DROP DATABASE IF EXISTS {SCRATCH_DATABASE}")
    psql(server_url, f"CREATE DATABASE {SCRATCH_DATABASE}")
    env = {**os.environ, "DATABASE_URL": scratch_url(server_url), "LOG_LEVEL": "WARNING", "OPENBLAS_NUM_THREADS": "1"}
    env.pop("REDIS_URL", None)  # the import itself does not use the cache; keep the run self-contained
    manage(env, "migrate", "-v0")
    manage(
        env, "create_shop", "--platform", "csv", "--domain", DOMAIN, "--currency", "GBP", "--timezone", "Europe/London"
    )

    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} cores, "
        f"file {DATA.name} ({DATA.stat().st_size >> 20} MiB gzip)"
    )
    for label in ("first run", "second run"):
        seconds, peak_mib, out = manage(env, "import_orders", DOMAIN, str(DATA), "--format", "online-retail")
        summary = out.strip().splitlines()[0]
        print(f"{label}: {seconds:.1f} s wall, peak RSS {peak_mib} MiB -- {summary}")


if __name__ == "__main__":
    main()
