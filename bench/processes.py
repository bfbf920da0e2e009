"""What the fleet and soak benchmarks share: servers they start, signed requests, memory readings."""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from bench.common import ROOT

SHOPIFY_SECRET = "bench-shopify-secret-of-32-bytes-or-more"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def request_status(
    connection: http.client.HTTPConnection, method: str, path: str, *, body=None, headers=None, timeout: float = 30
) -> tuple[http.client.HTTPConnection, int]:
    """Send one request on a kept-alive connection; (the connection to use next, the status).
    A broken connection counts as status 0 and is replaced."""
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        response.read()
        return connection, response.status
    except OSError:
        connection.close()
        return http.client.HTTPConnection(connection.host, connection.port, timeout=timeout), 0


def load_average() -> str:
    """The 1, 5 and 15 minute load averages: the machine is shared, so every figure carries them."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def redis_start(port: int, *options: str) -> subprocess.Popen:
    """A private Redis without persistence, so its memory figures are this benchmark's alone;
    `options` are more redis-server arguments (e.g. a memory limit for a cache instance)."""
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no", "--loglevel", "warning", *options],
        stdout=subprocess.DEVNULL,
    )
    for _ in range(100):
        if subprocess.run(["redis-cli", "-p", str(port), "PING"], capture_output=True, text=True).stdout.strip():
            return server
        time.sleep(0.1)
    sys.exit(f"redis-server did not start on port {port}")


def redis_info(url: str, section: str) -> dict[str, str]:
    output = subprocess.run(["redis-cli", "-u", url, "INFO", section], capture_output=True, text=True, check=True)
    return dict(line.split(":", 1) for line in output.stdout.splitlines() if ":" in line)


def gunicorn_start(
    env: dict, port: int, *, workers: int = 2, threads: int = 4, worker_class: str = "gthread"
) -> subprocess.Popen:
    """gunicorn (threaded workers by default, so a slow client holds one thread rather than a
    worker), answering /livez before this returns."""
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi:application",
            "--workers",
            str(workers),
            "--worker-class",
            worker_class,
            "--threads",
            str(threads),
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    for _ in range(200):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/livez", timeout=1)
            return server
        except OSError:
            time.sleep(0.1)
    server.terminate()
    sys.exit("gunicorn did not answer /livez")


def celery_worker_start(
    env: dict,
    *,
    queues: str,
    concurrency: int,
    name: str,
    log: Path | None = None,
    extra: tuple[str, ...] = (),
    niceness: int = 0,
) -> subprocess.Popen:
    """A Celery worker; `niceness` lowers its CPU priority (docs/OPERATIONS.md: training workers on
    a host that also serves the storefront)."""
    command = ["nice", "-n", str(niceness)] if niceness else []
    command += [sys.executable, "-m", "celery", "-A", "config", "worker", "--queues", queues]
    command += ["--concurrency", str(concurrency), "--hostname", f"{name}@%h", "--loglevel", "warning"]
    command += ["--without-gossip", "--without-mingle", *extra]
    output = open(log, "w") if log else subprocess.DEVNULL  # noqa: SIM115 - lives as long as the worker
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)


def celery_workers_ready(env: dict, names: list[str], *, timeout: float = 120) -> float:
    """Seconds until every named worker (as passed to `celery_worker_start`) answers a ping, so
    that nothing measured afterwards shares the machine with their start-up."""
    started = time.monotonic()
    destinations = ",".join(f"{name}@{socket.gethostname()}" for name in names)
    while time.monotonic() - started < timeout:
        answered = subprocess.run(
            [sys.executable, "-m", "celery", "-A", "config", "inspect", "ping", "-d", destinations, "-t", "2", "-j"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
        )
        if answered.returncode == 0 and all(f"{name}@" in answered.stdout for name in names):
            return time.monotonic() - started
        time.sleep(0.5)
    raise RuntimeError(f"Celery workers {destinations} did not answer within {timeout:.0f} s")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def process_tree(pid: int) -> list[int]:
    """The process and all its descendants (gunicorn's and Celery's pool children)."""
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        try:
            for task in os.listdir(f"/proc/{current}/task"):
                children = Path(f"/proc/{current}/task/{task}/children").read_text().split()
                pending.extend(int(child) for child in children)
        except OSError:
            continue
    return found


def rss_mib(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def shopify_webhook_headers(*, domain: str, topic: str, body: bytes, webhook_id: str) -> dict[str, str]:
    digest = base64.b64encode(hmac.new(SHOPIFY_SECRET.encode(), body, hashlib.sha256).digest()).decode()
    return {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": digest,
        "X-Shopify-Shop-Domain": domain,
        "X-Shopify-Api-Version": "2026-10",
        "X-Shopify-Webhook-Id": webhook_id,
        "X-Shopify-Triggered-At": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
    }


def app_proxy_query(params: dict[str, str]) -> str:
    """Sign a query the way Shopify's App Proxy does: sorted key=value pairs, hex HMAC-SHA256."""
    from urllib.parse import urlencode

    message = "".join(f"{key}={value}" for key, value in sorted(params.items()))
    signature = hmac.new(SHOPIFY_SECRET.encode(), message.encode(), hashlib.sha256).hexdigest()
    return urlencode({**params, "signature": signature})
