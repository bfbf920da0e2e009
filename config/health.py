"""Liveness and readiness probes for the operator's load balancer or orchestrator."""

from __future__ import annotations

import logging
import uuid

from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

logger = logging.getLogger("basketry.health")


@require_GET
def livez(request: HttpRequest) -> JsonResponse:
    """The process answers; touches neither the database nor the cache."""
    return JsonResponse({"status": "ok"})


def _database_answers() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except Exception:
        logger.warning("readyz: the database does not answer", exc_info=True)
        return False


def _cache_answers() -> bool:
    # A unique key per probe: concurrent probes must not read each other's value.
    key, value = f"readyz:{uuid.uuid4().hex}", "1"
    try:
        cache.set(key, value, timeout=5)
        answered = cache.get(key) == value
        cache.delete(key)
        return answered
    except Exception:
        logger.warning("readyz: the cache does not answer", exc_info=True)
        return False


@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    checks = {"database": _database_answers(), "cache": _cache_answers()}
    ready = all(checks.values())
    return JsonResponse(
        {
            "status": "ok" if ready else "unavailable",
            "checks": {name: "ok" if ok else "down" for name, ok in checks.items()},
        },
        status=200 if ready else 503,
    )
