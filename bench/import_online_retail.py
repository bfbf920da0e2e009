"""Benchmark: import the full UCI Online Retail file (541,909 lines) into PostgreSQL.

Creates a scratch database, migrates it, creates a shop and runs `import_orders` twice as a
separate process, reporting wall time and peak resident memory of each run. The second run must
import 0 orders. Results go into docs/BENCHMARKS.md by hand.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres make bench-import

DATABASE_URL names the server (any database on it); the scratch database is `basketry_bench`.
"""

from __future__ import annotations

import os
import sys

from bench.common import ONLINE_RETAIL, manage, scratch_database_env

DOMAIN = "online-retail.bench"


def main() -> None:
    env = scratch_database_env("basketry_bench")
    manage(env, "migrate", "-v0")
    manage(
        env, "create_shop", "--platform", "csv", "--domain", DOMAIN, "--currency", "GBP", "--timezone", "Europe/London"
    )
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} cores, "
        f"file {ONLINE_RETAIL.name} ({ONLINE_RETAIL.stat().st_size >> 20} MiB gzip)"
    )
    for label in ("first run", "second run"):
        seconds, peak_mib, out = manage(
            env, "import_orders", DOMAIN, str(ONLINE_RETAIL), "--format", "online-retail", "--no-train"
        )
        summary = out.strip().splitlines()[0]
        print(f"{label}: {seconds:.1f} s wall, peak RSS {peak_mib} MiB -- {summary}")


if __name__ == "__main__":
    main()
