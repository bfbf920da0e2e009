"""Caches of the storefront read path.

Two levels: Redis (shared by every web process) and a small in-process LRU. Keys embed the shop
id and a generation token minted whenever the shop's state is rebuilt; `storefront_invalidate`
drops the state, so the next request mints a new token and no old list can be served again.

Only answers about real products are cached per product: every product id that is not in the
catalogue shares one entry per list kind (`UNKNOWN_ANCHOR`), so junk ids cannot grow the cache.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
from collections import OrderedDict
from typing import Any

from django.core.cache import cache

from shops.cache_guard import cache_delete_or_defer

logger = logging.getLogger("basketry.storefront")

# Shop state (shop id, currency, live version, generation, widget settings) lives this long in
# Redis; anything that changes what a storefront shows deletes it at once, the expiry only bounds
# memory.
STATE_SECONDS = 10 * 60
# An unknown domain is remembered briefly and in a few bytes, so that junk requests do not each
# reach the database; a shop installed meanwhile invalidates it anyway.
UNKNOWN_STATE_SECONDS = 60
# The anchor under which every product id the catalogue does not have shares its list.
UNKNOWN_ANCHOR = "~unknown"
# Rendered lists: regenerated on a miss, keyed by generation, so expiry is only housekeeping.
LIST_SECONDS = 60 * 60
# In-process copies: a few thousand small JSON documents per web process.
LOCAL_ENTRIES = 4096
LOCAL_SECONDS = 30
# Each web process also keeps a shop's state this long, sparing Redis a round trip per request:
# after a change, the process that made it forgets at once, the others within this delay.
LOCAL_STATE_SECONDS = 2


def state_key(domain: str) -> str:
    return f"storefront:state:{domain}"


def list_key(*, shop_id: int, generation: str, kind: str, anchor: str) -> str:
    return f"shop:{shop_id}:storefront:{generation}:{kind}:{anchor}"


def new_generation(version_id: int | None) -> str:
    return f"{version_id or 0}-{secrets.token_hex(4)}"


class LocalCache:
    """A thread-safe LRU with a short TTL for the hottest rendered lists of this process.

    Lists are only ever read under keys that embed the shop's current generation; shop states
    are kept for LOCAL_STATE_SECONDS only.
    """

    def __init__(self, entries: int = LOCAL_ENTRIES, seconds: float = LOCAL_SECONDS) -> None:
        self.entries, self.seconds = entries, seconds
        self._data: OrderedDict[str, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> Any:
        with self._lock:
            found = self._data.get(key)
            if found is None:
                return None
            expires, value = found
            if expires < time.monotonic():
                del self._data[key]
                return None
            self._data.move_to_end(key)
            return value

    def set(self, key: str, value: Any) -> None:
        with self._lock:
            self._data[key] = (time.monotonic() + self.seconds, value)
            self._data.move_to_end(key)
            while len(self._data) > self.entries:
                self._data.popitem(last=False)

    def delete(self, key: str) -> None:
        with self._lock:
            self._data.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


local = LocalCache()
local_states = LocalCache(entries=1024, seconds=LOCAL_STATE_SECONDS)


def redis_get(key: str) -> Any:
    return cache.get(key)


def redis_set(key: str, value: Any, seconds: int) -> None:
    cache.set(key, value, timeout=seconds)


def storefront_invalidate(*, domain: str) -> None:
    """Forget the shop's storefront state: the next request reads the live version and the
    catalogue afresh under a new generation. Call after publishing, catalogue, rule or widget
    settings changes."""
    local_states.delete(state_key(domain))
    try:
        cache_delete_or_defer(cache, state_key(domain))
    except Exception:
        # Only a cache without a breaker gets here. Reads go to the database meanwhile; a state
        # the cache still holds expires within STATE_SECONDS.
        logger.warning("storefront.invalidate_failed domain=%s", domain)


def dumps(document: dict) -> bytes:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()
