"""Project-wide request handling that belongs to no app."""

from __future__ import annotations

import logging

import redis
from django.http import HttpRequest, JsonResponse

logger = logging.getLogger("basketry.requests")

# How long a client should wait before trying again when the cache (Redis) does not answer.
RETRY_AFTER_SECONDS = 30


class CacheOutageMiddleware:
    """What needs Redis to be correct (a one-time connect reference, a lock) refuses rather than
    proceeds without it (shops/cache_guard.py); the request then gets a 503 that says to try
    again, not a 500. The storefront, webhooks and events do not get here: they serve, record and
    count without the cache."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception):
        if not isinstance(exception, (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)):
            return None
        logger.warning("request.cache_unavailable path=%s error=%s", request.path, type(exception).__name__)
        response = JsonResponse(
            {"error": "a service this request needs is briefly unavailable; try again shortly"}, status=503
        )
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
