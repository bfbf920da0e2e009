"""Caches of the storefront read path: what is kept where, and for how long.

Three kinds of entries, each invalidated by what changes it and nothing else:
- the shop state (live version, widget settings, rules, experiments), per domain: deleted by
  `storefront_invalidate` when any of them changes;
- stored lists, per shop, model version, kind and anchor: immutable, a new version has new keys;
- serving facts, per shop and product (recommendations/storefront/facts.py): replaced when that
  product changes, announced on the shop's change feed so that every process drops its copy.

Two tiers: the shared cache (Redis, when the deployment has one) and this process's memory.
Without Redis (the embedded mode) there is no shared tier: state and facts come from the
database, which every process shares, so no process can serve what another one changed.

Every shared key starts with `shop:{id}:` except the state, which is found by domain before the
shop id is known.
"""

from __future__ import annotations

import gc
import json
import logging
import pickle
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

from django.core.cache import cache
from django.dispatch import receiver
from django.test.signals import setting_changed

from shops.cache_guard import CacheUnavailable, cache_delete_or_defer

logger = logging.getLogger("basketry.storefront")

# Shop state lives this long in Redis; anything that changes what a storefront shows deletes it
# at once, the expiry only bounds memory.
STATE_SECONDS = 10 * 60
# An unknown domain is remembered briefly and in a few bytes, so that junk requests do not each
# reach the database; a shop installed meanwhile invalidates it anyway.
UNKNOWN_STATE_SECONDS = 60
# Each process keeps a shop's state this long: after a change, the process that made it forgets
# at once, the others within this delay.
LOCAL_STATE_SECONDS = 0.5
# Stored lists never change under their key (a new version has new keys): expiry is housekeeping.
LIST_SECONDS = 24 * 60 * 60
# What a product id the shop does not have answers, remembered briefly: junk ids cost a few bytes
# for a minute, not an entry for good.
UNKNOWN_LIST_SECONDS = 60

# This process's memory, bounded by entries (docs/OPERATIONS.md states the bytes they take):
# stored lists and product facts, each with a bound per shop and one for all shops. When the
# whole is full, the shop holding the most entries gives up its least recently used one, so a
# large shop cannot push out the hot lists of the others.
LOCAL_LISTS = 16384
LOCAL_LISTS_PER_SHOP = 8192
LOCAL_FACTS = 32768
LOCAL_FACTS_PER_SHOP = 16384
LOCAL_SHOWN = 16384
LOCAL_SHOWN_PER_SHOP = 8192


def state_key(domain: str) -> str:
    return f"storefront:state:{domain}"


def list_key(*, shop_id: int, version_id: int, kind: str, anchor: str) -> str:
    return f"shop:{shop_id}:list:{version_id}:{kind}:{anchor}"


class _Shared:
    """The shared cache as this path uses it, worked out once per configuration: reaching
    Django's cache object costs a thread-local lookup per attribute, and building its Redis
    client costs as much as a round trip."""

    def __init__(self) -> None:
        self.enabled = getattr(cache, "breaker", None) is not None
        self.breaker = cache.breaker if self.enabled else None
        self.client = cache._cache.get_client(write=True) if self.enabled else None
        self.prefix = cache.make_key("") if self.enabled else ""


_shared: _Shared | None = None


def _shared_get() -> _Shared:
    global _shared
    if _shared is None:
        _shared = _Shared()
    return _shared


@receiver(setting_changed)
def _cache_settings_changed(*, setting: str, **kwargs) -> None:
    global _shared
    if setting == "CACHES":
        _shared = None


def shared_cache_enabled() -> bool:
    """Whether the cache is shared by every process (Redis): only then may it hold what the
    storefront serves. An in-process cache (the embedded mode) would let one process serve what
    another one changed."""
    return _shared_get().enabled


class ShopMemory:
    """A thread-safe LRU of one kind of entry, keyed by (shop id, key), with a bound per shop and
    one for all shops; when the whole is full, the shop holding the most entries loses its least
    recently used one."""

    def __init__(self, *, entries: int, per_shop: int) -> None:
        self.entries, self.per_shop = entries, per_shop
        self._shops: dict[int, OrderedDict[Hashable, Any]] = {}
        self._size = 0
        self._lock = threading.Lock()

    def get(self, shop_id: int, key: Hashable) -> Any:
        with self._lock:
            entries = self._shops.get(shop_id)
            if entries is None:
                return None
            value = entries.get(key)
            if value is not None:
                entries.move_to_end(key)
            return value

    def set(self, shop_id: int, key: Hashable, value: Any) -> None:
        with self._lock:
            entries = self._shops.setdefault(shop_id, OrderedDict())
            if key in entries:
                entries[key] = value
                entries.move_to_end(key)
                return
            entries[key] = value
            self._size += 1
            if len(entries) > self.per_shop:
                entries.popitem(last=False)
                self._size -= 1
            while self._size > self.entries:
                largest = max(self._shops.values(), key=len)
                largest.popitem(last=False)
                self._size -= 1

    def discard(self, shop_id: int, keys) -> None:
        with self._lock:
            entries = self._shops.get(shop_id)
            if entries is None:
                return
            for key in keys:
                if entries.pop(key, None) is not None:
                    self._size -= 1

    def forget_shop(self, shop_id: int) -> None:
        with self._lock:
            entries = self._shops.pop(shop_id, None)
            if entries:
                self._size -= len(entries)

    def clear(self) -> None:
        with self._lock:
            self._shops.clear()
            self._size = 0

    def __len__(self) -> int:
        return self._size


class TimedMemory:
    """A thread-safe LRU whose entries expire: the shop states of this process."""

    def __init__(self, *, entries: int, seconds: float) -> None:
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


local_lists = ShopMemory(entries=LOCAL_LISTS, per_shop=LOCAL_LISTS_PER_SHOP)
# Lists as last shown, checked on each use against the shop's rules and its products' changes.
local_rendered = ShopMemory(entries=LOCAL_SHOWN, per_shop=LOCAL_SHOWN_PER_SHOP)
# Product ids a shop does not have, apart from the lists so that junk ids cannot push them out.
local_unknown = TimedMemory(entries=4096, seconds=UNKNOWN_LIST_SECONDS)
local_states = TimedMemory(entries=1024, seconds=LOCAL_STATE_SECONDS)


def shared_get(key: str) -> tuple[Any, bool]:
    """(value or None, whether the shared cache answered)."""
    if not shared_cache_enabled():
        return None, False
    try:
        return cache.get(key), True
    except CacheUnavailable:
        # The breaker is open and logged once when it opened; nothing was asked.
        return None, False
    except Exception:
        logger.warning("storefront.cache_down key=%s", key.split(":")[0])
        return None, False


def shared_set_many(values: dict[str, Any], seconds: int) -> None:
    if not shared_cache_enabled() or not values:
        return
    try:
        cache.set_many(values, timeout=seconds)
    except CacheUnavailable:
        pass
    except Exception:
        logger.warning("storefront.cache_down while writing")


def shared_client():
    """(Redis client, breaker) of the shared cache."""
    shared = _shared_get()
    return shared.client, shared.breaker


def shared_key_prefix() -> str:
    """What Django puts before a key in the shared cache (prefix and version)."""
    return _shared_get().prefix


def _outage(error: Exception, doing: str) -> None:
    if not isinstance(error, CacheUnavailable):
        logger.warning("storefront.cache_down while %s: %s", doing, type(error).__name__)


def shared_values_get(keys: list[str]) -> tuple[dict[str, Any], bool]:
    """{key: value} of those of the keys the shared cache holds (one MGET, no Django layer), and
    whether it answered. Keys are named as Django names them, so `cache.delete` reaches them."""
    if not shared_cache_enabled():
        return {}, False
    if not keys:
        return {}, True
    client, breaker = shared_client()
    try:
        prefix = shared_key_prefix()
        values = breaker.call(client.mget, [prefix + key for key in keys])
    except Exception as error:
        _outage(error, "reading")
        return {}, False
    found = {}
    for key, raw in zip(keys, values, strict=True):
        if raw is not None:
            try:
                found[key] = pickle.loads(raw)  # noqa: S301 - written by this module
            except Exception:
                continue  # written by another release: read afresh as if missing
    return found, True


def shared_values_set(values: dict[str, Any], seconds: int) -> None:
    if not shared_cache_enabled() or not values:
        return
    client, breaker = shared_client()
    pipe, prefix = client.pipeline(transaction=False), shared_key_prefix()
    for key, value in values.items():
        pipe.set(prefix + key, pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL), ex=seconds)
    try:
        breaker.call(pipe.execute)
    except Exception as error:
        _outage(error, "writing")


def storefront_invalidate(*, domain: str) -> None:
    """Forget the shop's state (live version, widget settings, rules, experiments, plan): the next
    request reads it afresh. Call after publishing, rule, widget-setting, experiment or plan
    changes; product changes go through `serving_facts_changed` instead."""
    local_states.delete(state_key(domain))
    if not shared_cache_enabled():
        return
    try:
        cache_delete_or_defer(cache, state_key(domain))
    except Exception:
        # Only a cache without a breaker gets here. Reads go to the database meanwhile; a state
        # the cache still holds expires within STATE_SECONDS.
        logger.warning("storefront.invalidate_failed domain=%s", domain)


# Whole-shop loads (a version's pack, a shop's facts) run in a thread of their own, so that no
# request waits for one; a load that ended (done, found nothing, or failed) is not started again
# for LOAD_RETRY_SECONDS. Tests run them inline.
BACKGROUND_LOADS = True
LOAD_RETRY_SECONDS = 30
_loads: dict[Hashable, float | None] = {}  # key: when it ended, None while it runs
_loads_lock = threading.Lock()


def load_once(key: Hashable, work) -> None:
    """Run `work()` in the background unless a load of this key runs or ended lately."""
    with _loads_lock:
        if key in _loads:
            ended = _loads[key]
            if ended is None or time.monotonic() - ended < LOAD_RETRY_SECONDS:
                return
        if len(_loads) > 4096:
            _loads.clear()
        _loads[key] = None
    if BACKGROUND_LOADS:
        threading.Thread(
            target=_load_run, args=(key, work, True, True), name=f"storefront-load-{key}", daemon=True
        ).start()
    else:
        _load_run(key, work, False, False)


def load_now(key: Hashable, work) -> None:
    """Run `work()` in this thread now, as `load_once` would in the background: for a process
    warming up before it serves (`warm.storefront_warm`). The collector waits for it likewise."""
    with _loads_lock:
        _loads[key] = None
    _load_run(key, work, False, True)


def loading(key: Hashable) -> bool:
    """Whether a load of this key is running."""
    with _loads_lock:
        return key in _loads and _loads[key] is None


# While a load runs in a thread of its own, a request thread that gave up the interpreter lock
# (for a socket, Redis, PostgreSQL) waits for the load to hand it back, up to Python's switch
# interval (5 ms by default) each time, several times per request. A shorter interval for as
# long as a load runs bounds each wait by it (long C calls still hold the lock: hence packs are
# read in parts, packs.PACK_READ_BYTES).
LOAD_SWITCH_INTERVAL = 0.0002


class _LoadEffects:
    """What running loads changed in the interpreter, to put back after the last one."""

    lock = threading.Lock()
    paused = 0  # loads that paused the collector
    collector_was_enabled = False
    threaded = 0  # of those, loads in threads of their own
    switch_interval = 0.005


def _collector_pause(own_thread: bool) -> None:
    effects = _LoadEffects
    with effects.lock:
        if effects.paused == 0:
            effects.collector_was_enabled = gc.isenabled()
            gc.disable()
        effects.paused += 1
        if own_thread:
            if effects.threaded == 0:
                effects.switch_interval = sys.getswitchinterval()
                sys.setswitchinterval(min(LOAD_SWITCH_INTERVAL, effects.switch_interval))
            effects.threaded += 1


def _collector_resume(own_thread: bool) -> None:
    """After the last load running: what the loads brought (a shop's facts, a pack) lives long
    and holds no cycles, so it is left out of the collector's later passes (`gc.freeze`)."""
    effects = _LoadEffects
    with effects.lock:
        if own_thread:
            effects.threaded -= 1
            if effects.threaded == 0:
                sys.setswitchinterval(effects.switch_interval)
        effects.paused -= 1
        if effects.paused == 0:
            gc.freeze()
            if effects.collector_was_enabled:
                gc.enable()


def _load_run(key: Hashable, work, own_thread: bool, paused: bool) -> None:
    # A load makes 100,000 objects or more; each full pass of the collector they set off would
    # walk every object of the process (about 100 ms at 50,000 products) while the requests
    # wait, so a serving process's loads (in their own threads, and a warm-up) pause it; one in
    # a thread of its own also shortens the switch interval (LOAD_SWITCH_INTERVAL).
    if paused:
        _collector_pause(own_thread)
    try:
        work()
    except Exception:
        logger.exception("storefront.load_failed key=%s", key)
    finally:
        if paused:
            _collector_resume(own_thread)
        with _loads_lock:
            _loads[key] = time.monotonic()
        if own_thread:
            from django.db import connections

            connections.close_all()  # this thread's connections only


def loads_clear() -> None:
    with _loads_lock:
        _loads.clear()


def dumps(document: dict) -> bytes:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()
