"""Service-marked tests skip on the embedded default and fail under REQUIRE_SERVICES=1."""

from __future__ import annotations

import os
import subprocess
import sys

from django.conf import settings

TARGET = "tests/test_backends.py::test_database_is_postgresql"


def run_pytest(**extra_env: str) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key not in {"DATABASE_URL", "REDIS_URL"}}
    env.pop("REQUIRE_SERVICES", None)
    env.update(extra_env, DATABASE_URL=f"sqlite:///{settings.BASE_DIR / 'var' / 'marker-check.sqlite3'}")
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", TARGET],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_service_test_skips_on_the_embedded_default():
    result = run_pytest()
    assert result.returncode == 0, result.stdout
    assert "1 skipped" in result.stdout


def test_service_test_fails_when_services_are_required():
    result = run_pytest(REQUIRE_SERVICES="1")
    assert result.returncode == 1, result.stdout
    assert "REQUIRE_SERVICES=1 but this test needs postgres" in result.stdout
