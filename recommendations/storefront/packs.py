"""Serving packs: every product list of a published version in one compact blob, one per version.

Publishing writes the pack in the same transaction as the lists (`pack_build`). A web process
loads the live version's pack once, in 1 MB parts (`_pack_read`), in a thread of its own
(`caches.load_once`), and from then on reads every product and popular list of that version from
its own memory, without a round trip, whatever the size of the catalogue. Until the pack is in,
lists are read one at a time (this process, the shared cache, the database); after a publish the
process keeps serving the previous version's pack until the new one is in, so publishing never
makes the storefront cold, and each answer comes from one version only. A pack never changes (a
new version has a new pack), so no process can serve a stale one, with or without Redis; rules and
product facts are applied on every read as for any list.

Layout (numpy arrays, no pickle): `pks`, every product the pack names, the anchors first (row r of
each kind is the list of `pks[r]`) and `external`, the anchors' platform ids (JSON); per product
kind `offsets` (row r's items are `items[offsets[r]:offsets[r + 1]]`), `present` (whether row r has
a list of that kind at all), `items` (indices into `pks`) and `why` (indices into `sentences`,
JSON); the popular list likewise.

Memory: a process keeps at most PACK_BYTES of packs, the newest pack of each shop it serves,
least recently used first out; a shop whose pack is larger than PACK_BYTES_PER_SHOP is served list
by list instead, so one large shop cannot push out everyone else's.
"""

from __future__ import annotations

import io
import json
import logging
import threading
from collections import OrderedDict

import numpy as np
from django.db import models
from django.db.models.functions import Length, Substr

from recommendations.models import ListKind, ServingPack
from recommendations.storefront import cache as caches
from shops.tenancy import shop_scope

logger = logging.getLogger("basketry.storefront")

PACKED_KINDS = (ListKind.RELATED, ListKind.BOUGHT_TOGETHER)
PACK_BYTES = 256 * 2**20
PACK_BYTES_PER_SHOP = 96 * 2**20
# Python's own cost of one anchor in the lookup by platform id (the string, its slot, the row).
_ANCHOR_OVERHEAD = 120


def _text_array(values: list[str]) -> np.ndarray:
    return np.frombuffer(json.dumps(values, ensure_ascii=False).encode(), dtype=np.uint8)


def _text_list(array: np.ndarray) -> list[str]:
    return json.loads(array.tobytes().decode())


def pack_build(*, lists: dict[str, dict[str, list[dict]]], external: dict[int, str], items_kept: int) -> bytes:
    """The pack of a version's lists as training publishes them ({kind: {anchor: items}}, product
    lists anchored on the product's pk); `external` maps the shop's product pks to their platform
    ids; each list keeps its first `items_kept` items."""
    anchors = sorted(
        {int(anchor) for kind in PACKED_KINDS for anchor in lists.get(kind, {}) if int(anchor) in external}
    )
    index = {pk: row for row, pk in enumerate(anchors)}
    pks = list(anchors)
    sentences: dict[str, int] = {}

    def encoded(items: list[dict]) -> tuple[list[int], list[int]]:
        positions, why = [], []
        for item in items[:items_kept]:
            pk = int(item["product_id"])
            if pk not in index:
                index[pk] = len(pks)
                pks.append(pk)
            positions.append(index[pk])
            why.append(sentences.setdefault(item["explanation"], len(sentences)))
        return positions, why

    arrays: dict[str, np.ndarray] = {}
    for kind in PACKED_KINDS:
        by_anchor = lists.get(kind, {})
        offsets, present, positions, why = [0], [], [], []
        for pk in anchors:
            items = by_anchor.get(str(pk))
            present.append(items is not None)
            row_positions, row_why = encoded(items or [])
            positions += row_positions
            why += row_why
            offsets.append(len(positions))
        arrays[f"{kind}.offsets"] = np.asarray(offsets, dtype=np.int64)
        arrays[f"{kind}.present"] = np.asarray(present, dtype=np.bool_)
        arrays[f"{kind}.items"] = np.asarray(positions, dtype=np.int32)
        arrays[f"{kind}.why"] = np.asarray(why, dtype=np.uint32)
    popular = lists.get(ListKind.POPULAR, {}).get("")
    if popular is not None:
        positions, why = encoded(popular)
        arrays["popular.items"] = np.asarray(positions, dtype=np.int32)
        arrays["popular.why"] = np.asarray(why, dtype=np.uint32)
    # The narrowest types the indices fit: half the bytes to read and hold for most shops.
    code_type = np.uint16 if len(sentences) <= 2**16 else np.uint32
    index_type = np.uint16 if len(pks) <= 2**16 else np.int32
    for name in list(arrays):
        if name.endswith(".why"):
            arrays[name] = arrays[name].astype(code_type)
        elif name.endswith(".items"):
            arrays[name] = arrays[name].astype(index_type)
        elif name.endswith(".offsets") and len(arrays[name]) and arrays[name][-1] < 2**31:
            arrays[name] = arrays[name].astype(np.int32)
    arrays["pks"] = np.asarray(pks, dtype=np.int64)
    arrays["external"] = _text_array([external[pk] for pk in anchors])
    arrays["sentences"] = _text_array(list(sentences))
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


class Pack:
    """One version's lists as a process serves them."""

    def __init__(self, *, version_id: int, data: bytes) -> None:
        with np.load(io.BytesIO(data), allow_pickle=False) as stored:
            arrays = {name: stored[name] for name in stored.files}
        self.version_id = version_id
        self._pks = arrays.pop("pks")
        external = _text_list(arrays.pop("external"))
        self._rows = {product_id: row for row, product_id in enumerate(external)}
        self._sentences = _text_list(arrays.pop("sentences"))
        self._arrays = arrays
        # Per kind (present, offsets, items, why), looked up once per read rather than by name.
        self._kinds = {
            kind: tuple(arrays[f"{kind}.{part}"] for part in ("present", "offsets", "items", "why"))
            for kind in PACKED_KINDS
            if f"{kind}.offsets" in arrays
        }
        self.nbytes = (
            sum(array.nbytes for array in arrays.values())
            + self._pks.nbytes
            + len(external) * _ANCHOR_OVERHEAD
            + sum(len(sentence) + 60 for sentence in self._sentences)
        )

    def _compact(self, positions: np.ndarray, why: np.ndarray) -> tuple[tuple[int, str], ...]:
        sentences = self._sentences
        return tuple(zip(self._pks.take(positions).tolist(), [sentences[code] for code in why.tolist()], strict=True))

    def entry(self, kind: str, product_id: str) -> tuple | None:
        """(anchor pk, items or None) of the product with this platform id, as
        `service.lists_get` gives them (the items as `PackedItems`); None when the pack does not
        know the id (a product created since, or none of the shop's)."""
        row = self._rows.get(product_id)
        if row is None:
            return None
        pk = self._pks.item(row)
        arrays = self._kinds.get(kind)
        if arrays is None or not arrays[0].item(row):
            return (pk, None)
        _, offsets, items, why = arrays
        start, end = offsets[row : row + 2].tolist()
        return (pk, PackedItems(self, items[start:end], why[start:end]))

    def popular(self) -> tuple[tuple[int, str], ...] | None:
        if "popular.items" not in self._arrays:
            return None
        return self._compact(self._arrays["popular.items"], self._arrays["popular.why"])


class PackedItems:
    """A list of a pack as its (pk, explanation) pairs, decoded as they are read: a list is
    usually filled from its first few items, so the rest is decoded only when it is needed."""

    __slots__ = ("_pack", "_positions", "_why")
    HEAD = 16

    def __init__(self, pack: Pack, positions: np.ndarray, why: np.ndarray) -> None:
        self._pack, self._positions, self._why = pack, positions, why

    def __len__(self) -> int:
        return len(self._positions)

    def __iter__(self):
        head = self.HEAD
        yield from self._pack._compact(self._positions[:head], self._why[:head])
        if len(self._positions) > head:
            yield from self._pack._compact(self._positions[head:], self._why[head:])

    def __eq__(self, other) -> bool:
        return tuple(self) == tuple(other) if isinstance(other, PackedItems | tuple) else NotImplemented

    __hash__ = None

    def __repr__(self) -> str:
        return f"PackedItems({tuple(self)!r})"


_packs: OrderedDict[int, Pack] = OrderedDict()
_packs_bytes = [0]
_packs_lock = threading.Lock()


def pack_of(shop_id: int, version_id: int | None) -> Pack | None:
    """This version's pack if this process holds it. Without the lock: each step is one
    operation of the dict, and a pack another thread drops meanwhile is still good to read."""
    pack = _packs.get(shop_id)
    if pack is None or pack.version_id != version_id:
        return None
    try:
        _packs.move_to_end(shop_id)
    except KeyError:
        pass
    return pack


def pack_serving(shop_id: int, version_id: int | None) -> Pack | None:
    """The pack to serve the shop from: this version's, or, while it is being loaded, the
    previous version's this process still holds; None when there is none (the lists are then
    read one at a time). Starts the load when this process does not hold the version's pack."""
    if version_id is None:
        return None
    pack = pack_of(shop_id, version_id)
    if pack is not None:
        return pack
    caches.load_once(("pack", shop_id, version_id), lambda: _pack_load(shop_id, version_id))
    with _packs_lock:
        pack = _packs.get(shop_id)
    if pack is not None and (pack.version_id == version_id or caches.loading(("pack", shop_id, version_id))):
        return pack
    return None


def pack_warm(shop_id: int, version_id: int) -> None:
    """Load the version's pack into this process now, in this thread (`warm.storefront_warm`)."""
    caches.load_now(("pack", shop_id, version_id), lambda: _pack_load(shop_id, version_id))


# A pack is read in parts of this size: the driver decodes each part holding the interpreter
# lock (a 17 MB pack in one piece kept this process's requests waiting 29 ms, then 9 ms more to
# copy it), and stored uncompressed each part is read without the ones before it.
PACK_READ_BYTES = 2**20


def _pack_read(shop_id: int, version_id: int) -> bytes | None:
    """The version's pack, read in parts; None when there is none, or it is too large for this
    process, or it went (the version retired) while it was read."""
    with shop_scope(shop_id):
        stored = ServingPack.objects.filter(version_id=version_id)
        size = stored.annotate(size=Length("data")).values_list("size", flat=True).first()
        if size is None:
            return None
        if size > PACK_BYTES_PER_SHOP:
            logger.info("storefront.pack_too_large shop=%s version=%s: lists read one at a time", shop_id, version_id)
            return None
        parts = []
        for start in range(0, size, PACK_READ_BYTES):
            part = stored.annotate(
                part=Substr("data", start + 1, PACK_READ_BYTES, output_field=models.BinaryField())
            ).values_list("part", flat=True)
            found = list(part[:1])
            if not found:
                return None
            parts.append(bytes(found[0]))
    data = b"".join(parts)
    return data if len(data) == size else None


def _pack_load(shop_id: int, version_id: int) -> None:
    data = _pack_read(shop_id, version_id)
    pack = Pack(version_id=version_id, data=data) if data is not None else None
    if pack is not None and pack.nbytes > PACK_BYTES_PER_SHOP:
        logger.info("storefront.pack_too_large shop=%s version=%s: lists read one at a time", shop_id, version_id)
        pack = None
    _install(shop_id, version_id, pack)


def _install(shop_id: int, version_id: int, pack: Pack | None) -> None:
    """Keep `pack` as the shop's (or, None, drop what the shop has: the version has no pack this
    process can hold), unless a newer version's pack came first."""
    with _packs_lock:
        held = _packs.get(shop_id)
        if held is not None and held.version_id > version_id:
            return
        if held is not None:
            _packs_bytes[0] -= _packs.pop(shop_id).nbytes
        if pack is None:
            return
        _packs[shop_id] = pack
        _packs_bytes[0] += pack.nbytes
        while _packs_bytes[0] > PACK_BYTES and len(_packs) > 1:
            oldest = next(iter(_packs))
            if oldest == shop_id:
                _packs.move_to_end(shop_id)
                oldest = next(iter(_packs))
            _packs_bytes[0] -= _packs.pop(oldest).nbytes


def packs_held() -> dict[int, int]:
    """{shop id: version id} of the packs this process holds (tests, operators' checks)."""
    with _packs_lock:
        return {shop_id: pack.version_id for shop_id, pack in _packs.items()}


def packs_clear() -> None:
    with _packs_lock:
        _packs.clear()
        _packs_bytes[0] = 0
