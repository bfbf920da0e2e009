"""What the benchmarks share: running a management command as its own measured process."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
ONLINE_RETAIL = ROOT.parent / "shared" / "datasets" / "online-retail" / "online_retail.csv.gz"


def results_write(results, *, default_name: str) -> Path:
    """Write a benchmark's results as JSON to BENCH_OUT, or var/`default_name`; the path."""
    import json

    out = Path(os.environ.get("BENCH_OUT", ROOT / "var" / default_name))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    return out


def manage(env: dict, *args: str) -> tuple[float, int, str]:
    """Run `manage.py ARGS`; return (seconds, peak RSS in MiB of that very process, stdout).

    stderr goes to a file so that a chatty process cannot fill a pipe nobody reads while stdout
    is read; os.wait4 then reaps this one child and gives its own resource usage.
    """
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


def scratch_database_env(name: str, *, needs_dataset: bool = True) -> dict:
    """Drop and create database `name` on the PostgreSQL server of DATABASE_URL; the environment
    for commands that use it (no Redis: tasks run in-process, as on a single worker)."""
    server_url = os.environ.get("DATABASE_URL", "")
    if not server_url.startswith("postgres"):
        sys.exit("Set DATABASE_URL to a PostgreSQL server, e.g. postgres://postgres@127.0.0.1:5432/postgres")
    if needs_dataset and not ONLINE_RETAIL.is_file():
        sys.exit(f"The UCI Online Retail file is not at {ONLINE_RETAIL}")
    parts = urlsplit(server_url)
    psql = ["psql", "-q", "-h", parts.hostname or "127.0.0.1", "-p", str(parts.port or 5432)]
    psql += ["-U", parts.username or "postgres", "-d", "postgres", "-c"]
    subprocess.run([*psql, f"DROP DATABASE IF EXISTS {name}"], check=True)
    subprocess.run([*psql, f"CREATE DATABASE {name}"], check=True)
    env = {
        **os.environ,
        "DATABASE_URL": urlunsplit(parts._replace(path=f"/{name}")),
        "LOG_LEVEL": "WARNING",
        "OPENBLAS_NUM_THREADS": "1",
    }
    env.pop("REDIS_URL", None)
    return env
