"""Serving facts: what the storefront needs to know of a product to show it, one product at a time.

A list read fetches the facts of its own items only (and of the products the merchant's rules
name), never the catalogue: from this process's memory, then the shared cache, then the
database. A product change replaces that product's facts and nothing else:

- the writer, when its transaction commits, deletes the product's shared entry and announces the
  change on the shop's change feed, in one atomic step (`serving_facts_changed`);
- every process reads the feed at most every FEED_POLL_SECONDS per shop it serves and drops the
  products that changed from its memory, so a product that went out of stock leaves every list
  of every process within that delay, without any list being rebuilt;
- a reader that loads facts from the database writes them back to the shared cache only if the
  product did not change since the reader last read the feed (checked atomically), so a slow
  reader can never put back what a writer has just replaced.

The feed is one Redis sorted set per shop: each product that changed, scored with the sequence
number of its latest change, and a member `~seq` holding the latest number. A feed that went
missing (flushed, expired, evicted) reads as a lower number: processes then forget everything
they hold for the shop. Without a shared cache (the embedded mode) facts are read from the
database on every render: no process keeps any, so none can be stale.

A shop of up to BULK_FACTS_PER_SHOP products has all its facts loaded into each process that
serves it, with one statement in the background (`caches.load_once`), checked against the feed
like any other: what changed since the feed position read before the statement is dropped once
the facts are in, and later changes as they are announced.
"""

from __future__ import annotations

import json
import logging
import pickle
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import NamedTuple

from django.db import connection

from recommendations.storefront import cache as caches
from shops.cache_guard import CacheUnavailable
from shops.models import Product

logger = logging.getLogger("basketry.storefront")

FEED_POLL_SECONDS = 0.25
# A shared fact lives this long unless its product changes first: the bound on how long a change
# whose announcement could not reach Redis (an outage, a writer that died) can stay visible.
FACT_SECONDS = 10 * 60
FEED_SECONDS = 24 * 60 * 60
# Products announced per script call: a catalogue sync of 50,000 products must not hold Redis for
# one long script.
ANNOUNCE_BATCH = 2000
SEQUENCE = "~seq"
# Feed positions a process keeps (a few dozen bytes each); past this it starts over, which only
# costs each shop's facts being read afresh.
FEEDS_KEPT = 4096

_ANNOUNCE = """
local seq = redis.call('ZINCRBY', KEYS[1], 1, ARGV[2])
for i = 2, #KEYS do redis.call('DEL', KEYS[i]) end
for i = 3, #ARGV do redis.call('ZADD', KEYS[1], seq, ARGV[i]) end
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[1]))
return seq
"""
# KEYS: the feed, then each product's fact key; ARGV: the reader's sequence, the expiry, then for
# each product its pk and its encoded facts. Writes a product's facts only while its latest
# change is not newer than what the reader had seen, and never once the feed went back.
_FILL = """
local latest = tonumber(redis.call('ZSCORE', KEYS[1], ARGV[3]) or '0')
local seen = tonumber(ARGV[1])
if latest < seen then return 0 end
local written = 0
for i = 2, #KEYS do
  local changed = tonumber(redis.call('ZSCORE', KEYS[1], ARGV[2 + (i - 1) * 2]) or '0')
  if changed <= seen then
    redis.call('SET', KEYS[i], ARGV[3 + (i - 1) * 2], 'EX', tonumber(ARGV[2]), 'NX')
    written = written + 1
  end
end
return written
"""


class ServingFact(NamedTuple):
    """A product as the storefront shows it and as the rules see it (the attributes of
    `recommendations.rules.ProductFacts`, as a tuple: thousands are decoded per second)."""

    pk: int
    title: str = ""
    category: str = ""
    vendor: str = ""
    tags: frozenset[str] = frozenset()
    price: float = 0.0
    sellable: bool = True
    popularity: float = 0.0
    external_id: str = ""
    # The product's card as JSON without its closing brace: the explanation is added per list.
    card: bytes = b""


def feed_key(shop_id: int) -> str:
    return f"shop:{shop_id}:facts:feed"


def fact_key(shop_id: int, pk: int) -> str:
    return f"shop:{shop_id}:fact:{pk}"


def _redis_key(key: str) -> str:
    """The key as the shared cache names it (Django's prefix and version before it)."""
    return caches.shared_key_prefix() + key


_FIELDS = ("pk", "external_id", "title", "url", "image_url", "price", "currency", "category", "vendor", "tags")


def _fact_from_row(row: tuple, *, status: str, in_stock: bool, shop_currency: str) -> ServingFact:
    pk, external_id, title, url, image_url, price, currency, category, vendor, tags = row
    card = caches.dumps(
        {
            "product_id": external_id,
            "title": title,
            "url": url,
            "image_url": image_url,
            "price": f"{price:.2f}",
            "currency": currency or shop_currency,
        }
    )[:-1]
    return ServingFact(
        pk=pk,
        title=title,
        category=category,
        vendor=vendor,
        tags=frozenset(tags or ()),
        price=float(price),
        sellable=Product.sellable_from(status, in_stock),
        external_id=external_id,
        card=card,
    )


def _facts_from_database(
    shop_id: int, pks: Iterable[int] | None, *, shop_currency: str, paced: bool = True
) -> dict[int, ServingFact]:
    """The facts of those of the products the shop has (all of them for `pks` None); another
    shop's products are not found.

    Written out rather than built by the ORM (its compilation costs more than the query on this
    path); the shop is named explicitly, as the scoped manager would."""
    columns = ", ".join(f'"{name if name != "pk" else "id"}"' for name in (*_FIELDS, "status", "in_stock"))
    statement = f'SELECT {columns} FROM "{Product._meta.db_table}" WHERE "shop_id" = %s'
    params: list = [shop_id]
    if pks is not None:
        pks = [int(pk) for pk in pks]
        if not pks:
            return {}
        statement += f' AND "id" IN ({", ".join(["%s"] * len(pks))})'
        params += pks
    facts: dict[int, ServingFact] = {}
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        if pks is not None:
            _facts_add(facts, cursor.fetchall(), shop_currency=shop_currency)
            return facts
        # The whole shop, read in the background: in chunks, pausing between them so that this
        # process's requests are not kept waiting for the interpreter lock meanwhile.
        while rows := cursor.fetchmany(LOAD_CHUNK):
            _facts_add(facts, rows, shop_currency=shop_currency)
            if paced:
                time.sleep(LOAD_PAUSE_SECONDS)
    return facts


# Whole-shop loads build this many products' facts at a time, then pause.
LOAD_CHUNK = 100
LOAD_PAUSE_SECONDS = 0.001


def _facts_add(facts: dict[int, ServingFact], rows, *, shop_currency: str) -> None:
    for *fields, tags, status, in_stock in rows:
        row = (*fields, json.loads(tags) if isinstance(tags, str) else tags)
        facts[row[0]] = _fact_from_row(row, status=status, in_stock=bool(in_stock), shop_currency=shop_currency)


def _encode(fact: ServingFact) -> bytes:
    return pickle.dumps(tuple(fact), protocol=pickle.HIGHEST_PROTOCOL)


def _decode(raw: bytes) -> ServingFact | None:
    """The facts, or None for an entry this release cannot read (written by another one during
    a rolling deploy): it is then read from the database as if it were missing."""
    try:
        return ServingFact._make(pickle.loads(raw))  # noqa: S301 - written by this module
    except Exception:
        return None


_client = caches.shared_client


# Products whose latest change a process remembers per shop (for checking its rendered lists);
# past this it forgets the shop's facts and rendered lists at once instead.
CHANGES_KEPT = 50_000


class _Feed:
    """What this process has read of one shop's change feed, and the products it dropped since:
    a local counter goes up with every drop, so what was built at counter N is still good if
    none of its products was dropped after N and the shop was not forgotten after N."""

    __slots__ = ("changed", "checked_at", "counter", "forgotten_at", "sequence", "trusted")

    def __init__(self) -> None:
        self.checked_at = -1.0e9
        self.sequence = 0
        self.trusted = False
        self.counter = 0
        self.forgotten_at = 0
        self.changed: dict[int, int] = {}

    def dropped(self, pks: Iterable[int]) -> None:
        with _changes_lock:
            self.counter += 1
            for pk in pks:
                self.changed[pk] = self.counter
            if len(self.changed) > CHANGES_KEPT:
                self.forgotten_at, self.changed = self.counter, {}

    def forgot(self) -> None:
        with _changes_lock:
            self.counter += 1
            self.forgotten_at, self.changed = self.counter, {}

    def unchanged_since(self, mark: int, pks: Iterable[int]) -> bool:
        if not self.trusted or mark < self.forgotten_at:
            return False
        if mark == self.counter:
            return True  # nothing dropped since
        changed = self.changed
        return all(changed.get(pk, 0) <= mark for pk in pks)


_changes_lock = threading.Lock()
local_facts = caches.ShopMemory(entries=caches.LOCAL_FACTS, per_shop=caches.LOCAL_FACTS_PER_SHOP)

# Whole shops' facts: a shop of up to BULK_FACTS_PER_SHOP products is loaded whole; a process
# keeps at most BULK_FACTS products' facts so (about 750 bytes each with ordinary image URLs),
# least recently used shop first out.
BULK_FACTS_PER_SHOP = 100_000
BULK_FACTS = 150_000
_bulk: OrderedDict[int, dict[int, ServingFact]] = OrderedDict()
_bulk_size = [0]
_bulk_lock = threading.Lock()


def _bulk_get(shop_id: int) -> dict[int, ServingFact] | None:
    with _bulk_lock:
        facts = _bulk.get(shop_id)
        if facts is not None:
            _bulk.move_to_end(shop_id)
        return facts


def _bulk_discard(shop_id: int, pks: Iterable[int]) -> None:
    with _bulk_lock:
        facts = _bulk.get(shop_id)
        if facts is None:
            return
        for pk in pks:
            if facts.pop(pk, None) is not None:
                _bulk_size[0] -= 1


def _forget(shop_id: int) -> None:
    """Forget every fact this process holds for the shop."""
    local_facts.forget_shop(shop_id)
    with _bulk_lock:
        facts = _bulk.pop(shop_id, None)
        if facts is not None:
            _bulk_size[0] -= len(facts)


def facts_warm(*, shop_id: int, shop_currency: str) -> None:
    """Load every fact of the shop into this process now, in this thread, without the pauses a
    load beside requests makes (`warm.storefront_warm`), when the shop's feed can be read."""
    if caches.shared_cache_enabled() and _feed_current(shop_id).trusted:
        caches.load_now(("facts", shop_id), lambda: _bulk_load(shop_id, shop_currency, paced=False))


def _bulk_load(shop_id: int, shop_currency: str, *, paced: bool = True) -> None:
    """Load every fact of the shop into this process, if it is small enough and the feed can be
    read (else its facts stay per product); `paced`, pausing now and then for the requests the
    process answers meanwhile."""
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT COUNT(*) FROM "{Product._meta.db_table}" WHERE "shop_id" = %s', [shop_id])
        (count,) = cursor.fetchone()
    if count > min(BULK_FACTS_PER_SHOP, BULK_FACTS):
        return
    feed = _feed_for(shop_id)
    forgotten_at = feed.forgotten_at
    client, breaker = _client()
    key = _redis_key(feed_key(shop_id))
    try:
        seen = int(breaker.call(client.zscore, key, SEQUENCE) or 0)
    except Exception:
        return
    if not feed.trusted:
        return
    facts = _facts_from_database(shop_id, None, shop_currency=shop_currency, paced=paced)
    with _bulk_lock:
        held = _bulk.pop(shop_id, None)
        if held is not None:
            _bulk_size[0] -= len(held)
        _bulk[shop_id] = facts
        _bulk_size[0] += len(facts)
        while _bulk_size[0] > BULK_FACTS and len(_bulk) > 1:
            _bulk_size[0] -= len(_bulk.pop(next(iter(_bulk))))
    # What changed after the position read before the statement may not be in what it read; a
    # feed that went back meanwhile (flushed) cannot say, nor can a process that forgot the shop.
    try:
        pipe = client.pipeline(transaction=False)
        pipe.zscore(key, SEQUENCE)
        pipe.zrangebyscore(key, f"({seen}", "+inf")
        latest, changed = breaker.call(pipe.execute)
    except Exception:
        _forget(shop_id)
        return
    if int(latest or 0) < seen or feed.forgotten_at != forgotten_at or not feed.trusted:
        _forget(shop_id)
        return
    pks = [int(member) for member in changed if member != SEQUENCE.encode()]
    if pks:
        _bulk_discard(shop_id, pks)
        local_facts.discard(shop_id, pks)
        feed.dropped(pks)


_feeds: dict[int, _Feed] = {}
_feeds_lock = threading.Lock()


def _feed_for(shop_id: int) -> _Feed:
    with _feeds_lock:
        feed = _feeds.get(shop_id)
        if feed is None:
            if len(_feeds) >= FEEDS_KEPT:
                _feeds.clear()
            feed = _feeds[shop_id] = _Feed()
        return feed


def _feed_read(shop_id: int, feed: _Feed) -> None:
    """Drop from this process's memory the products of the shop that changed since the last read."""
    client, breaker = _client()
    key = _redis_key(feed_key(shop_id))
    try:
        pipe = client.pipeline(transaction=False)
        pipe.zscore(key, SEQUENCE)
        pipe.zrangebyscore(key, f"({feed.sequence}", "+inf")
        latest, changed = breaker.call(pipe.execute)
    except Exception as error:
        if not isinstance(error, CacheUnavailable):
            logger.warning("storefront.feed_unreadable shop=%s error=%s", shop_id, type(error).__name__)
        _forget(shop_id)
        feed.forgot()
        feed.trusted = False
        return
    latest = int(latest or 0)
    if not feed.trusted or latest < feed.sequence:
        # A process new to the shop, back from an outage, or a feed that went missing: what it
        # holds cannot be checked against the feed.
        _forget(shop_id)
        feed.forgot()
    elif changed:
        pks = [int(member) for member in changed if member != SEQUENCE.encode()]
        _bulk_discard(shop_id, pks)
        local_facts.discard(shop_id, pks)
        feed.dropped(pks)
    feed.sequence, feed.trusted = latest, True


def _feed_current(shop_id: int) -> _Feed:
    feed = _feed_for(shop_id)
    now = time.monotonic()
    if now - feed.checked_at >= FEED_POLL_SECONDS:
        feed.checked_at = now
        _feed_read(shop_id, feed)
    return feed


def facts_mark(shop_id: int) -> int | None:
    """A mark to check later whether facts this process read for the shop are still current
    (`facts_unchanged_since`); None when it cannot tell (no shared cache, or the feed is
    unreadable): whatever is built from facts must then be built afresh each time."""
    if not caches.shared_cache_enabled():
        return None
    feed = _feed_current(shop_id)
    return feed.counter if feed.trusted else None


def facts_unchanged_since(shop_id: int, mark: int, pks: Iterable[int]) -> bool:
    """Whether none of these products changed, as far as this process knows, since `mark`."""
    return _feed_current(shop_id).unchanged_since(mark, pks)


def facts_held(*, shop_id: int):
    """A lookup `pk -> ServingFact | None` of the facts this process holds for the shop and can
    trust now (its whole-shop facts, then the ones it read one at a time), with no round trip;
    None when it holds no whole-shop facts for the shop (use `facts_get`, which also starts
    their load). A product the lookup does not find may still exist: ask `facts_get`."""
    if not caches.shared_cache_enabled() or not _feed_current(shop_id).trusted:
        return None
    bulk = _bulk_get(shop_id)
    if bulk is None:
        return None
    found = bulk.get

    def lookup(pk: int) -> ServingFact | None:
        return found(pk) or local_facts.get(shop_id, pk)

    return lookup


def facts_get(*, shop_id: int, pks: Iterable[int], shop_currency: str) -> tuple[Mapping[int, ServingFact], str]:
    """The facts of these products of the shop, and where the slowest of them came from
    ("local", "shared" or "database"). The mapping has every one of them that exists and may
    hold others (the whole shop's, when this process holds them all): read it by pk, with
    `.get`, since a change announced meanwhile can drop a product from it."""
    wanted = set(pks)
    if not caches.shared_cache_enabled():
        return _facts_from_database(shop_id, wanted, shop_currency=shop_currency), "database"
    feed = _feed_current(shop_id)
    trusted, seen = feed.trusted, feed.sequence
    found: dict[int, ServingFact] = {}
    if trusted:
        bulk = _bulk_get(shop_id)
        if bulk is None:
            caches.load_once(("facts", shop_id), lambda: _bulk_load(shop_id, shop_currency))
            bulk = _bulk_get(shop_id) or {}
        if bulk.keys() >= wanted:
            return bulk, "local"  # not copied: a read costs its own items, not a copy of them
        for pk in wanted:
            fact = bulk.get(pk) or local_facts.get(shop_id, pk)
            if fact is not None:
                found[pk] = fact
    missing = [pk for pk in wanted if pk not in found]
    if not missing:
        return found, "local"
    source = "shared"
    if trusted:
        shared = _shared_read(shop_id, missing)
        for pk, fact in shared.items():
            found[pk] = fact
            local_facts.set(shop_id, pk, fact)
        missing = [pk for pk in missing if pk not in shared]
    if missing:
        source = "database"
        loaded = _facts_from_database(shop_id, missing, shop_currency=shop_currency)
        found.update(loaded)
        if trusted and loaded:
            _shared_fill(shop_id, loaded, seen=seen)
            for pk, fact in loaded.items():
                local_facts.set(shop_id, pk, fact)
    return found, source


def _shared_read(shop_id: int, pks: list[int]) -> dict[int, ServingFact]:
    client, breaker = _client()
    try:
        values = breaker.call(client.mget, [_redis_key(fact_key(shop_id, pk)) for pk in pks])
    except Exception as error:
        if not isinstance(error, CacheUnavailable):
            logger.warning("storefront.cache_down while reading facts: %s", type(error).__name__)
        return {}
    decoded = {pk: _decode(raw) for pk, raw in zip(pks, values, strict=True) if raw is not None}
    return {pk: fact for pk, fact in decoded.items() if fact is not None}


def _shared_fill(shop_id: int, facts: dict[int, ServingFact], *, seen: int) -> None:
    client, breaker = _client()
    keys = [_redis_key(feed_key(shop_id))]
    args: list = [seen, FACT_SECONDS, SEQUENCE]
    for pk, fact in facts.items():
        keys.append(_redis_key(fact_key(shop_id, pk)))
        args += [pk, _encode(fact)]
    try:
        breaker.call(client.eval, _FILL, len(keys), *keys, *args)
    except Exception as error:
        if not isinstance(error, CacheUnavailable):
            logger.warning("storefront.cache_down while writing facts: %s", type(error).__name__)


# Announcements that could not reach Redis, sent with the next one or by a timer once the
# breaker lets calls through again (a worker between webhooks may not write for a while).
_unsent: dict[int, set[int]] = {}
_unsent_lock = threading.Lock()
_unsent_timer: list[threading.Timer] = []


def serving_facts_changed(*, shop_id: int, pks: Iterable[int]) -> None:
    """These products of the shop changed (and the change is committed): drop their facts from
    this process at once, from the shared cache and from every other process within
    FEED_POLL_SECONDS. Call from `transaction.on_commit`."""
    pks = sorted({int(pk) for pk in pks})
    _bulk_discard(shop_id, pks)
    local_facts.discard(shop_id, pks)
    with _feeds_lock:
        feed = _feeds.get(shop_id)
    if feed is not None:
        feed.dropped(pks)
    if not caches.shared_cache_enabled() or not pks:
        return
    with _unsent_lock:
        _unsent.setdefault(shop_id, set()).update(pks)
    _unsent_send()


def _unsent_send() -> None:
    with _unsent_lock:
        pending = dict(_unsent)
        _unsent.clear()
        _unsent_timer.clear()
    for shop_id, pks in pending.items():
        _announce(shop_id, sorted(pks))
    with _unsent_lock:
        if _unsent and not _unsent_timer:
            timer = threading.Timer(caches.shared_client()[1].cooldown_seconds + 0.1, _unsent_send)
            timer.daemon = True
            _unsent_timer.append(timer)
            timer.start()


def _announce(shop_id: int, pks: list[int]) -> None:
    client, breaker = _client()
    feed = _redis_key(feed_key(shop_id))
    for start in range(0, len(pks), ANNOUNCE_BATCH):
        batch = pks[start : start + ANNOUNCE_BATCH]
        keys = [feed, *(_redis_key(fact_key(shop_id, pk)) for pk in batch)]
        try:
            breaker.call(client.eval, _ANNOUNCE, len(keys), *keys, FEED_SECONDS, SEQUENCE, *batch)
        except Exception as error:
            left = pks[start:]
            with _unsent_lock:
                _unsent.setdefault(shop_id, set()).update(left)
            logger.warning(
                "storefront.facts_change_unsent shop=%s products=%s error=%s: sent again when the cache "
                "answers; shared facts expire within %ss anyway",
                shop_id,
                len(left),
                type(error).__name__,
                FACT_SECONDS,
            )
            return


def local_memory_clear() -> None:
    """Forget every fact and feed position of this process (tests)."""
    local_facts.clear()
    with _bulk_lock:
        _bulk.clear()
        _bulk_size[0] = 0
    with _feeds_lock:
        _feeds.clear()
    with _unsent_lock:
        _unsent.clear()
        for timer in _unsent_timer:
            timer.cancel()
        _unsent_timer.clear()
