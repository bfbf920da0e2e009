"""The Redis cache behind a per-process circuit breaker.

A Redis that is down refuses connections at once, but a hung one (paused, swapping, a network
partition) lets every call wait for its socket timeout. Either way, every request that asks the
cache first pays for the failure. After one failure the breaker opens: for a cool-down, calls fail
at once with `CacheUnavailable` without touching the network, and callers take their fallback
(the storefront reads PostgreSQL, the event rate limit lets events in). When the cool-down is over,
one call is let through as a probe (half-open): if Redis answers, the breaker closes; if not, it
opens for another cool-down.

The breaker raises rather than pretending: a lock taken with `cache.add` while Redis does not
answer is an error for the caller, never a fake success, and a value written with `cache.set`
is either stored or the caller hears that it was not.

It lives in `shops`, the bottom layer, so that every app can catch `CacheUnavailable`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import redis.exceptions
from django.core.cache.backends.redis import RedisCache

logger = logging.getLogger("basketry.cache")

# What says the server did not answer; any other error (a wrong type, a missing key for incr)
# is an answer, and the server is healthy.
OUTAGES = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError)
DEFAULT_COOLDOWN_SECONDS = 5.0
# Invalidations a process keeps for when the cache answers again; beyond this the entries are
# left to expire (the storefront state does within minutes).
DEFERRED_DELETES_MAX = 10_000


class CacheUnavailable(redis.exceptions.ConnectionError):
    """The breaker is open: the cache was not asked, because it did not answer a moment ago."""


class CircuitBreaker:
    """Closed, open until a moment, or half-open with one probe in flight. Thread-safe."""

    def __init__(self, *, name: str, cooldown_seconds: float) -> None:
        self.name = name
        self.cooldown_seconds = cooldown_seconds
        self._lock = threading.Lock()
        self._open_until = 0.0  # time.monotonic(); 0 while closed
        self._probing = False
        # Calls that reached the network and failed; what tests and operators count.
        self.failures = 0
        # Keys whose deletion could not reach the cache, deleted as soon as it answers again.
        self.deferred_deletes: set[str] = set()
        self._flush_timer = False

    @property
    def is_open(self) -> bool:
        return self._open_until != 0.0

    def call(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        self._admit()
        try:
            result = function(*args, **kwargs)
        except OUTAGES as error:
            self._trip(error)
            raise
        except BaseException:
            self._recover()
            raise
        self._recover()
        return result

    def reset(self) -> None:
        with self._lock:
            self._open_until, self._probing, self.failures = 0.0, False, 0
            self.deferred_deletes.clear()
            self._flush_timer = False

    def defer_delete(self, key: str) -> None:
        with self._lock:
            if len(self.deferred_deletes) < DEFERRED_DELETES_MAX:
                self.deferred_deletes.add(key)
                return
        logger.warning("cache.deferred_deletes_full cache=%s: key %s left to expire", self.name, key)

    def flush_timer_claim(self) -> bool:
        """True for the one caller that gets to schedule the flush of deferred deletes."""
        with self._lock:
            claimed, self._flush_timer = not self._flush_timer, True
            return claimed

    def flush_timer_release(self) -> None:
        with self._lock:
            self._flush_timer = False

    def take_deferred_deletes(self) -> list[str]:
        with self._lock:
            keys, self.deferred_deletes = list(self.deferred_deletes), set()
            return keys

    def _admit(self) -> None:
        with self._lock:
            if self._open_until == 0.0:
                return
            if time.monotonic() < self._open_until or self._probing:
                raise CacheUnavailable(f"cache {self.name} did not answer; retrying after the cool-down")
            self._probing = True

    def _trip(self, error: BaseException) -> None:
        with self._lock:
            was_closed = self._open_until == 0.0
            self._open_until = time.monotonic() + self.cooldown_seconds
            self._probing = False
            self.failures += 1
        if was_closed:
            logger.warning(
                "cache.breaker_open cache=%s cooldown=%ss error=%s: serving without the cache",
                self.name,
                self.cooldown_seconds,
                type(error).__name__,
            )

    def _recover(self) -> None:
        with self._lock:
            was_open = self._open_until != 0.0
            self._open_until, self._probing = 0.0, False
        if was_open:
            logger.warning("cache.breaker_closed cache=%s: the cache answers again", self.name)


# One breaker per Redis location and process, shared by the threads (Django builds one cache
# object per thread, and they must all learn of an outage at once).
_breakers: dict[str, CircuitBreaker] = {}
_breakers_lock = threading.Lock()


def breaker_for(location: str, *, cooldown_seconds: float | None = None) -> CircuitBreaker:
    """The process's breaker for that Redis; a cache built with a cool-down sets it."""
    with _breakers_lock:
        breaker = _breakers.get(location)
        if breaker is None:
            breaker = _breakers[location] = CircuitBreaker(
                name=location, cooldown_seconds=cooldown_seconds or DEFAULT_COOLDOWN_SECONDS
            )
        elif cooldown_seconds is not None:
            breaker.cooldown_seconds = cooldown_seconds
        return breaker


def breakers_reset() -> None:
    """Close every breaker of this process (tests, and after reconfiguring the cache)."""
    with _breakers_lock:
        for breaker in _breakers.values():
            breaker.reset()


class GuardedRedisCache(RedisCache):
    """Django's Redis cache with the breaker in front of every call.

    OPTIONS takes `breaker_cooldown` (seconds) besides the redis-py connection options.
    """

    def __init__(self, server: str, params: dict) -> None:
        options = dict(params.get("OPTIONS") or {})
        cooldown = float(options.pop("breaker_cooldown", DEFAULT_COOLDOWN_SECONDS))
        super().__init__(server, {**params, "OPTIONS": options})
        location = server if isinstance(server, str) else ",".join(server)
        self.breaker = breaker_for(location, cooldown_seconds=cooldown)

    def _guarded(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        # Deferred invalidations first: a read must not return an entry that should be gone.
        if self.breaker.deferred_deletes:
            self._deferred_deletes_flush()
        return self.breaker.call(function, *args, **kwargs)

    def _deferred_deletes_flush(self) -> None:
        keys = self.breaker.take_deferred_deletes()
        if not keys:
            return
        try:
            self.breaker.call(super().delete_many, keys)
        except OUTAGES:
            for key in keys:
                self.breaker.defer_delete(key)
            self._deferred_deletes_flush_later()
        else:
            logger.warning("cache.deferred_deletes_done cache=%s keys=%s", self.breaker.name, len(keys))

    def _deferred_deletes_flush_later(self) -> None:
        # A process that changed something during the outage may not use the cache again for a
        # while (a worker between webhooks): a timer delivers its invalidations anyway.
        if not self.breaker.flush_timer_claim():
            return
        timer = threading.Timer(self.breaker.cooldown_seconds, self._deferred_deletes_flush_by_timer)
        timer.daemon = True
        timer.start()

    def _deferred_deletes_flush_by_timer(self) -> None:
        self.breaker.flush_timer_release()
        self._deferred_deletes_flush()

    def add(self, *args, **kwargs):
        return self._guarded(super().add, *args, **kwargs)

    def get(self, *args, **kwargs):
        return self._guarded(super().get, *args, **kwargs)

    def set(self, *args, **kwargs):
        return self._guarded(super().set, *args, **kwargs)

    def touch(self, *args, **kwargs):
        return self._guarded(super().touch, *args, **kwargs)

    def delete(self, *args, **kwargs):
        return self._guarded(super().delete, *args, **kwargs)

    def get_many(self, *args, **kwargs):
        return self._guarded(super().get_many, *args, **kwargs)

    def has_key(self, *args, **kwargs):
        return self._guarded(super().has_key, *args, **kwargs)

    def incr(self, *args, **kwargs):
        return self._guarded(super().incr, *args, **kwargs)

    def set_many(self, *args, **kwargs):
        return self._guarded(super().set_many, *args, **kwargs)

    def delete_many(self, *args, **kwargs):
        return self._guarded(super().delete_many, *args, **kwargs)

    def clear(self):
        return self._guarded(super().clear)

    def delete_or_defer(self, key: str) -> bool:
        """Delete now or, if the cache does not answer, as soon as it answers this process again:
        an invalidation lost during a short outage would leave a stale entry to be served once
        the cache is back. Never raises for an outage; False when deferred."""
        try:
            return self.delete(key)
        except OUTAGES:
            self.breaker.defer_delete(key)
            self._deferred_deletes_flush_later()
            return False


def cache_delete_or_defer(cache: Any, key: str) -> bool:
    """`delete_or_defer` where the cache has a breaker, a plain delete elsewhere."""
    delete = getattr(cache, "delete_or_defer", None)
    return delete(key) if delete is not None else cache.delete(key)
