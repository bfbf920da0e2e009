"""Suite-wide configuration: which backends run, service markers, shared fixtures."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from django.conf import settings

CHROMIUM = "/usr/bin/chromium"

# The storefront's whole-shop loads (packs, facts) run inline in tests, so that a test's own
# transaction is what they read; tests/recommendations/test_storefront_packs.py runs them in the
# background as in production.
from recommendations.storefront import cache as _storefront_caches  # noqa: E402

_storefront_caches.BACKGROUND_LOADS = False
ONLINE_RETAIL_PATH = Path(settings.BASE_DIR).parent / "shared" / "datasets" / "online-retail" / "online_retail.csv.gz"


def _requires_services() -> bool:
    return os.environ.get("REQUIRE_SERVICES", "").strip() in {"1", "true", "yes"}


def _service_configured(name: str) -> bool:
    if name == "postgres":
        return settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
    if name == "redis":
        return bool(settings.REDIS_URL)
    if name == "chromium":
        return Path(CHROMIUM).is_file()
    if name == "nginx":
        return shutil.which("nginx") is not None
    if name == "wordpress":
        return _wordpress_available()
    raise ValueError(f"Unknown service {name!r} in @pytest.mark.services")


def _wordpress_available() -> bool:
    """Debian's wordpress package, php with mysqli, and MariaDB answering on 127.0.0.1:3306."""
    import socket
    import subprocess

    if not Path("/usr/share/wordpress/wp-settings.php").is_file() or not shutil.which("php"):
        return False
    if not shutil.which("mariadb"):
        return False
    try:
        socket.create_connection(("127.0.0.1", 3306), timeout=1).close()
    except OSError:
        return False
    modules = subprocess.run(["php", "-m"], capture_output=True, text=True, timeout=30).stdout.split()
    return "mysqli" in modules


def _backend_description() -> str:
    mode = settings.BASKETRY_MODE
    return f"database={mode['database']}, cache={mode['cache']}, celery={mode['celery']}"


def pytest_report_header(config: pytest.Config) -> str:
    required = " (REQUIRE_SERVICES=1: service tests must run)" if _requires_services() else ""
    return f"basketry backends: {_backend_description()}{required}"


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    terminalreporter.write_line(f"basketry backends: {_backend_description()}")


def pytest_runtest_setup(item: pytest.Item) -> None:
    marker = item.get_closest_marker("services")
    if marker is not None:
        missing = [name for name in marker.args if not _service_configured(name)]
        if missing:
            message = (
                f"needs {', '.join(missing)}: set DATABASE_URL (PostgreSQL) and REDIS_URL, install chromium, nginx, "
                "wordpress (with MariaDB running on 127.0.0.1:3306)"
            )
            if _requires_services():
                pytest.fail(f"REQUIRE_SERVICES=1 but this test {message}", pytrace=False)
            pytest.skip(message)
    if item.get_closest_marker("online_retail") and not ONLINE_RETAIL_PATH.is_file():
        pytest.skip(f"the UCI Online Retail file is not at {ONLINE_RETAIL_PATH}")


@pytest.fixture(scope="session", autouse=True)
def _empty_cache_at_start():
    """Shop states and rendered lists a previous run left in Redis name shop ids of a database
    that no longer exists; the suite starts from an empty cache, as a deployment does."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(autouse=True)
def _eager_celery_unless_real_worker(request: pytest.FixtureRequest):
    """Tasks run in-process in tests, so that nothing piles up unconsumed in a real broker.

    The one test that starts a real worker asks for the `real_celery` fixture instead.
    """
    from config.celery import app

    if "real_celery" in request.fixturenames:
        yield
        return
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


@pytest.fixture
def real_celery():
    from config.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = False
    yield app
    app.conf.task_always_eager = previous


@pytest.fixture
def shop(db):
    from tests.factories import make_shop

    return make_shop(domain="alpha.example")


@pytest.fixture
def other_shop(db):
    from tests.factories import make_shop

    return make_shop(domain="beta.example")


@pytest.fixture
def online_retail_path() -> Path:
    if not ONLINE_RETAIL_PATH.is_file():
        pytest.skip(f"the UCI Online Retail file is not at {ONLINE_RETAIL_PATH}")
    return ONLINE_RETAIL_PATH
