"""The production web server (config/gunicorn.conf.py behind config/nginx.conf) against slow clients.

A real gunicorn and a real nginx on free ports, serving the test database. Slow clients send a
request's headers announcing a 1,000-byte body and never send it; twice as many of them as the
server has threads. The repository's setup must keep answering everyone else; a plain
`gunicorn -w 2` (sync workers) is shown to stall, which proves that the attack is real.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest
from django.conf import settings
from django.db import connection

from tests.factories import make_shop

REPO = Path(settings.BASE_DIR)
GUNICORN = str(Path(sys.executable).with_name("gunicorn"))
WORKERS, THREADS = 2, 4
SLOW_CLIENTS = 2 * WORKERS * THREADS
# Far more than a loopback request needs, far less than a stalled one waits.
ANSWER_WITHIN = 3.0

pytestmark = [pytest.mark.services("postgres", "redis"), pytest.mark.django_db(transaction=True)]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _server_env() -> dict:
    database = connection.settings_dict
    return {
        **os.environ,
        # The test database, which this test commits to (transaction=True).
        "DATABASE_URL": f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "WEB_CONCURRENCY": str(WORKERS),
        "GUNICORN_THREADS": str(THREADS),
        "OPENBLAS_NUM_THREADS": "1",
    }


def _wait_until_up(base_url: str, process: subprocess.Popen, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        try:
            if httpx.get(f"{base_url}/livez", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{base_url} did not come up")


@contextmanager
def _running(command: list[str], *, base_url: str, log: Path, cwd: Path = REPO):
    with open(log, "wb") as output:
        process = subprocess.Popen(command, cwd=cwd, env=_server_env(), stdout=output, stderr=subprocess.STDOUT)
    try:
        _wait_until_up(base_url, process)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def _nginx_conf(tmp_path: Path, *, listen: int, upstream: int) -> Path:
    """The repository's server block inside a minimal main file with everything under tmp_path."""
    server_block = (REPO / "config" / "nginx.conf").read_text()
    assert "listen 80;" in server_block and "server 127.0.0.1:8000;" in server_block
    server_block = server_block.replace("listen 80;", f"listen 127.0.0.1:{listen};").replace(
        "server 127.0.0.1:8000;", f"server 127.0.0.1:{upstream};"
    )
    (tmp_path / "basketry.conf").write_text(server_block)
    main = tmp_path / "nginx.conf"
    main.write_text(
        f"""
daemon off;
worker_processes 1;
pid {tmp_path}/nginx.pid;
error_log {tmp_path}/nginx-error.log warn;
events {{ worker_connections 512; }}
http {{
    access_log off;
    client_body_temp_path {tmp_path}/body;
    proxy_temp_path {tmp_path}/proxy;
    fastcgi_temp_path {tmp_path}/fastcgi;
    uwsgi_temp_path {tmp_path}/uwsgi;
    scgi_temp_path {tmp_path}/scgi;
    include {tmp_path}/basketry.conf;
}}
"""
    )
    os.chmod(tmp_path, 0o755)
    return main


def _slow_clients(port: int, count: int) -> list[socket.socket]:
    """Connections that announce a body and never send it."""
    sockets = []
    for _ in range(count):
        client = socket.create_connection(("127.0.0.1", port), timeout=5)
        client.sendall(
            b"POST /webhooks/shopify HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
        )
        sockets.append(client)
    # Let the server pick them up (and, for a naive one, give them its workers).
    time.sleep(0.5)
    return sockets


def _answers_while_attacked(base_url: str, port: int, shop_domain: str) -> list[tuple[str, int | None, float]]:
    results = []
    with ExitStack() as stack:
        for held in _slow_clients(port, SLOW_CLIENTS):
            stack.callback(held.close)
        for path in ("/livez", f"/api/storefront/v1/recommendations?shop={shop_domain}&type=related&product_id=1"):
            started = time.monotonic()
            try:
                status = httpx.get(f"{base_url}{path}", timeout=ANSWER_WITHIN).status_code
            except httpx.TimeoutException:
                status = None
            results.append((path, status, time.monotonic() - started))
    return results


@pytest.fixture
def storefront_shop():
    return make_shop(domain="slow-clients.example")


@pytest.mark.services("postgres", "redis", "nginx")
def test_the_repository_setup_answers_everyone_while_slow_clients_hold_connections(tmp_path, storefront_shop):
    app_port, proxy_port = _free_port(), _free_port()
    gunicorn = [GUNICORN, "-c", "config/gunicorn.conf.py", "--bind", f"127.0.0.1:{app_port}", "config.wsgi:application"]
    nginx = [shutil.which("nginx"), "-p", str(tmp_path), "-e", str(tmp_path / "nginx-error.log")]
    nginx += ["-c", str(_nginx_conf(tmp_path, listen=proxy_port, upstream=app_port))]
    base_url = f"http://127.0.0.1:{proxy_port}"
    with (
        _running(gunicorn, base_url=f"http://127.0.0.1:{app_port}", log=tmp_path / "gunicorn.log"),
        _running(nginx, base_url=base_url, log=tmp_path / "nginx.log"),
    ):
        results = _answers_while_attacked(base_url, proxy_port, storefront_shop.domain)

    for path, status, seconds in results:
        assert status == 200, f"{path} did not answer within {ANSWER_WITHIN}s while slow clients held connections"
        assert seconds < 2, (path, seconds)


def test_the_gunicorn_config_uses_threads_and_bounds_requests():
    namespace: dict = {}
    exec((REPO / "config" / "gunicorn.conf.py").read_text(), namespace)
    assert namespace["worker_class"] == "gthread" and namespace["threads"] >= 2
    assert namespace["bind"].startswith("127.0.0.1:"), "gunicorn must be reachable through nginx only"
    for name in ("timeout", "graceful_timeout", "keepalive", "limit_request_line", "limit_request_fields"):
        assert namespace[name] > 0


def test_plain_sync_workers_are_stalled_by_the_same_clients(tmp_path, storefront_shop):
    """The attack the setup above survives: without a buffering proxy, two sync workers are held."""
    port = _free_port()
    command = [GUNICORN, "-w", str(WORKERS), "--bind", f"127.0.0.1:{port}", "config.wsgi:application"]
    base_url = f"http://127.0.0.1:{port}"
    with _running(command, base_url=base_url, log=tmp_path / "gunicorn.log"):
        results = _answers_while_attacked(base_url, port, storefront_shop.domain)

    assert [status for _, status, _ in results] == [None, None], results
