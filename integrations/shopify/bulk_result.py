"""A bulk operation's JSONL result, joined parent to children whatever the order of its lines.

Since API 2026-01 Shopify writes bulk results ungrouped (`groupObjects: false`): each node is one
line, a nested one names its parent in `__parentId`, and a child may come before or after its
parent, anywhere in the file. Holding the whole file in memory would not scale to large shops, so
the lines go into an SQLite file next to the download, parents numbered in file order, children
indexed by parent id; reading joins them back, one parent at a time, in file order.

Indexing reads every line before anything is written to the database, so a malformed file (a
line that is not a JSON object, a node without an id, a parent listed twice, a child whose parent
is nowhere in the file) fails here, with the line number, and leaves no half-imported catalogue.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import orjson

# Rows per executemany: bounds the memory of the indexing pass.
_CHUNK = 5000


class BulkResultInvalid(Exception):
    """The bulk result is not what Shopify documents; the message says where."""


class IndexedBulkResult:
    def __init__(self, db: sqlite3.Connection, parents: int, lines: int) -> None:
        self._db = db
        self.parents = parents
        self.lines = lines

    def groups(self, *, after: int = 0) -> Iterator[tuple[int, dict, list[dict]]]:
        """(position of the parent in file order, parent, children) for every parent after `after`."""
        rows = self._db.execute(
            "SELECT p.seq, p.line, c.line FROM parents p LEFT JOIN children c ON c.parent_id = p.id"
            " WHERE p.seq > ? ORDER BY p.seq, c.rowid",
            (after,),
        )
        current: tuple[int, dict, list[dict]] | None = None
        for seq, parent_line, child_line in rows:
            if current is None or current[0] != seq:
                if current is not None:
                    yield current
                current = (seq, orjson.loads(parent_line), [])
            if child_line is not None:
                current[2].append(orjson.loads(child_line))
        if current is not None:
            yield current


def _row(raw: bytes, number: int) -> dict:
    try:
        row = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise BulkResultInvalid(f"line {number} is not JSON") from error
    if not isinstance(row, dict):
        raise BulkResultInvalid(f"line {number} is not a JSON object")
    if not isinstance(row.get("id"), str) or not row["id"]:
        raise BulkResultInvalid(f"line {number} has no id")
    parent = row.get("__parentId")
    if parent is not None and (not isinstance(parent, str) or not parent):
        raise BulkResultInvalid(f"line {number} has a __parentId that is not an id")
    return row


def _insert_parents(db: sqlite3.Connection, parents: list[tuple[int, str, bytes]]) -> None:
    inserted = db.executemany("INSERT OR IGNORE INTO parents VALUES (?, ?, ?)", parents).rowcount
    if inserted != len(parents):
        for seq, node_id, _ in parents:
            (stored,) = db.execute("SELECT seq FROM parents WHERE id = ?", (node_id,)).fetchone()
            if stored != seq:
                raise BulkResultInvalid(f"{node_id} appears twice as a top-level node")
    parents.clear()


@contextmanager
def indexed_bulk_result(lines: Iterable[bytes], *, directory: str | Path) -> Iterator[IndexedBulkResult]:
    """Index `lines` into an SQLite file under `directory` (deleted afterwards); raises
    BulkResultInvalid before yielding when the file is malformed."""
    path = Path(directory) / "bulk-result.sqlite3"
    # Read by the parsing thread of the sync while the indexing thread waits: one user at a time.
    db = sqlite3.connect(path, check_same_thread=False)
    try:
        db.executescript(
            "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;"
            "CREATE TABLE parents (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, line BLOB NOT NULL);"
            "CREATE TABLE children (parent_id TEXT NOT NULL, line BLOB NOT NULL);"
        )
        count = 0
        parents: list[tuple[int, str, bytes]] = []
        children: list[tuple[str, bytes]] = []
        number = lines_read = 0
        for number, raw in enumerate(lines, start=1):
            if not raw.strip():
                continue
            lines_read += 1
            row = _row(raw, number)
            parent_id = row.get("__parentId")
            if parent_id is None:
                count += 1
                parents.append((count, row["id"], bytes(raw).rstrip(b"\r\n")))
            else:
                children.append((parent_id, bytes(raw).rstrip(b"\r\n")))
            if len(parents) >= _CHUNK:
                _insert_parents(db, parents)
            if len(children) >= _CHUNK:
                db.executemany("INSERT INTO children VALUES (?, ?)", children)
                children.clear()
        _insert_parents(db, parents)
        db.executemany("INSERT INTO children VALUES (?, ?)", children)
        db.execute("CREATE INDEX children_parent ON children (parent_id)")
        orphan = db.execute(
            "SELECT c.parent_id, count(*) FROM children c LEFT JOIN parents p ON p.id = c.parent_id"
            " WHERE p.id IS NULL GROUP BY c.parent_id LIMIT 1"
        ).fetchone()
        if orphan is not None:
            raise BulkResultInvalid(f"{orphan[1]} line(s) belong to {orphan[0]}, which is not in the file")
        db.commit()
        yield IndexedBulkResult(db, parents=count, lines=lines_read)
    finally:
        db.close()
        path.unlink(missing_ok=True)
