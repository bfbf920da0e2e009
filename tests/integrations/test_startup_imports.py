"""A threaded web server imports what its requests need from several threads at once."""

from __future__ import annotations

import os
import subprocess
import sys

from django.conf import settings

# A fresh interpreter: once this test process has imported shopify_app, nothing can race on it.
CONCURRENT_IMPORTS = """
import threading
import django

django.setup()
errors = []
start = threading.Barrier(8)


def webhook_request():
    start.wait()
    try:
        from shopify_app import verify_webhook_req  # noqa: F401
    except Exception as error:
        errors.append(repr(error))


def app_proxy_request():
    start.wait()
    try:
        from shopify_app.verify.app_proxy import verify_app_proxy_req  # noqa: F401
    except Exception as error:
        errors.append(repr(error))


threads = [threading.Thread(target=webhook_request if n % 2 else app_proxy_request) for n in range(8)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print("errors:", errors)
"""


def test_shopify_imports_from_many_threads_at_once_after_start_up():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "PYTHONPATH": str(settings.BASE_DIR)}
    for _ in range(3):
        result = subprocess.run(
            [sys.executable, "-c", CONCURRENT_IMPORTS], env=env, capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, result.stderr[-2000:]
        assert result.stdout.strip().splitlines()[-1] == "errors: []"
