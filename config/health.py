"""Probes for the operator's load balancer and orchestrator (docs/OPERATIONS.md, Health).

- /livez: the process answers (restart it when this fails);
- /readyz: the database and the cache both answer (the contract; for monitoring and deploys);
- /servez: the instance can serve, if need be without the cache (for the load balancer: a Redis
  outage hits every instance at once, and taking them all out of rotation would turn a slower
  storefront into none).
"""

from __future__ import annotations

import logging
import uuid

from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from shops.cache_guard import CacheUnavailable

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
    except CacheUnavailable:
        # The breaker is open: the cache failed a moment ago and is not asked again yet.
        return False
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


@require_GET
def servez(request: HttpRequest) -> JsonResponse:
    """200 while requests can be answered: with the database, and with or without the cache
    (`"degraded": true` when without: slower, from PostgreSQL); 503 when the database is down."""
    checks = {"database": _database_answers(), "cache": _cache_answers()}
    serving, degraded = checks["database"], checks["database"] and not checks["cache"]
    return JsonResponse(
        {
            "status": ("degraded" if degraded else "ok") if serving else "unavailable",
            "degraded": degraded,
            "checks": {name: "ok" if ok else "down" for name, ok in checks.items()},
        },
        status=200 if serving else 503,
    )
