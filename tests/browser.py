"""What the Chromium tests share: where screenshots go, and ORM calls off the browser's loop."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from django.conf import settings

T = TypeVar("T")
ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts"


def off_the_browser_loop(query: Callable[[], T]) -> T:
    """Run an ORM call in a thread of its own: the sync Playwright API keeps an event loop running
    in the test's thread, where Django refuses queries (and a connection opened anyway outlives
    the test)."""
    from django.db import connections

    def run() -> T:
        try:
            return query()
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result()
