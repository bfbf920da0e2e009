"""Fast writes of many shop-owned rows: COPY on PostgreSQL, bulk_create elsewhere, and upserts.

Building a model instance per row and letting the ORM compile INSERTs costs more than the
database's own work for hundreds of thousands of order lines; COPY skips both. The tenancy rule
still holds: every row must belong to the shop in scope.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.db import connection, models

from shops.errors import ShopScopeError
from shops.tenancy import ShopOwnedModel, current_shop_id

# Rows per INSERT ... ON CONFLICT statement: few round trips, statements of a sane size.
_UPSERT_BATCH_SIZE = 1000

_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_text(value: Any) -> str:
    kind = type(value)
    if kind is int or kind is Decimal:
        return str(value)
    if kind is str:
        return value.translate(_COPY_ESCAPES)
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, (int, Decimal)):
        return str(value)
    if isinstance(value, (dict, list)):
        # JSON columns: the same text a JSONField would store.
        value = json.dumps(value, separators=(",", ":"))
    return str(value).translate(_COPY_ESCAPES)


def rows_insert(*, model: type[ShopOwnedModel], fields: Sequence[str], rows: Sequence[Sequence[Any]]) -> int:
    """Insert plain value rows (attnames in `fields`, which must include shop_id); returns the count.

    For rows whose ids the caller does not need back. Runs inside the shop's scope only.
    """
    shop_id = current_shop_id()
    shop_position = list(fields).index("shop_id")
    if any(row[shop_position] != shop_id for row in rows):
        raise ShopScopeError(
            f"Refusing to insert {model.__name__} rows of another shop inside the scope of shop {shop_id}."
        )
    if not rows:
        return 0
    if connection.vendor != "postgresql":
        model.objects.bulk_create([model(**dict(zip(fields, row, strict=True))) for row in rows], batch_size=2000)
        return len(rows)

    columns = [model._meta.get_field(name).column for name in fields]
    buffer = io.StringIO()
    for row in rows:
        buffer.write("\t".join(map(_copy_text, row)))
        buffer.write("\n")
    buffer.seek(0)
    table = connection.ops.quote_name(model._meta.db_table)
    column_list = ", ".join(connection.ops.quote_name(column) for column in columns)
    with connection.cursor() as cursor:
        cursor.copy_expert(f"COPY {table} ({column_list}) FROM STDIN", buffer)
    return len(rows)


def _upsert_batch_size(columns: int) -> int:
    # SQLite caps the bound parameters of one statement; PostgreSQL takes up to 65535.
    limit = connection.features.max_query_params or 65535
    return max(1, min(_UPSERT_BATCH_SIZE, limit // columns))


def rows_upsert(
    *,
    model: type[ShopOwnedModel],
    fields: Sequence[str],
    rows: Sequence[Sequence[Any]],
    update_fields: Sequence[str] = (),
    if_newer: str | None = None,
    ties_update: bool = False,
) -> list[tuple[str, int, bool]]:
    """Insert rows keyed by (shop_id, external_id) or update the stored ones, in one statement per
    batch: `INSERT ... ON CONFLICT (shop_id, external_id) DO UPDATE ... WHERE`.

    Two transactions writing the same key at once never fail on the unique constraint: under
    READ COMMITTED (Django's default) the second waits for the first and then updates the row it
    committed. With `if_newer` (a
    timestamp column) a stored row changes only if that column is empty or older than the
    incoming value (or equal, with `ties_update`), so the newest platform change wins whatever
    the commit order. Without `update_fields` stored rows are left alone (DO NOTHING).

    `fields` are attnames and must include shop_id and external_id; every row must belong to the
    shop in scope. Returns (external_id, pk, inserted) of the rows inserted or updated; rows left
    alone are not in it. Batches go in external id order so that concurrent writers of
    overlapping batches lock rows in the same order and cannot deadlock.
    """
    shop_id = current_shop_id()
    fields = list(fields)
    shop_position, key_position = fields.index("shop_id"), fields.index("external_id")
    if any(row[shop_position] != shop_id for row in rows):
        raise ShopScopeError(
            f"Refusing to write {model.__name__} rows of another shop inside the scope of shop {shop_id}."
        )
    keys = [row[key_position] for row in rows]
    if len(set(keys)) != len(keys):
        # PostgreSQL refuses to update one row twice in a statement; callers pick the version.
        raise ValueError(f"The same {model.__name__} external id appears twice in one upsert.")
    if not rows:
        return []

    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    model_fields = [model._meta.get_field(name) for name in fields]
    column = {name: quote(field.column) for name, field in zip(fields, model_fields, strict=True)}
    conflict = f"ON CONFLICT ({column['shop_id']}, {column['external_id']})"
    if update_fields:
        assignments = ", ".join(f"{column[name]} = EXCLUDED.{column[name]}" for name in update_fields)
        action = f"DO UPDATE SET {assignments}"
        if if_newer:
            stored, incoming = f"{table}.{column[if_newer]}", f"EXCLUDED.{column[if_newer]}"
            action += f" WHERE {stored} IS NULL OR {stored} {'<=' if ties_update else '<'} {incoming}"
    else:
        action = "DO NOTHING"
    postgresql = connection.vendor == "postgresql"
    # xmax is 0 only on a row version this statement inserted (an updated one carries our lock).
    returning = f"RETURNING {column['external_id']}, {quote(model._meta.pk.column)}"
    returning += ", (xmax = 0)" if postgresql else ""
    placeholders = "(" + ", ".join(["%s"] * len(fields)) + ")"

    # psycopg2 adapts aware datetimes and decimals itself, far faster than the fields' own
    # preparation (which cost more than the statement); SQLite needs the fields' text forms, since
    # it compares datetimes as the text they are stored as.
    preparers = [
        None
        if postgresql and isinstance(field, (models.DateTimeField, models.DecimalField))
        else field.get_db_prep_save
        for field in model_fields
    ]
    written: list[tuple[str, int, bool]] = []
    ordered = sorted(rows, key=lambda row: row[key_position])
    size = _upsert_batch_size(len(fields))
    with connection.cursor() as cursor:
        for start in range(0, len(ordered), size):
            batch = ordered[start : start + size]
            stored_keys: set[str] = set()
            if not postgresql:
                # SQLite runs one writer at a time: what exists now is what this statement updates.
                stored_keys = set(
                    model.objects.filter(external_id__in=[row[key_position] for row in batch]).values_list(
                        "external_id", flat=True
                    )
                )
            params = [
                value if prepare is None else prepare(value, connection)
                for row in batch
                for prepare, value in zip(preparers, row, strict=True)
            ]
            values = ", ".join([placeholders] * len(batch))
            cursor.execute(
                f"INSERT INTO {table} ({', '.join(column[name] for name in fields)}) VALUES {values} "
                f"{conflict} {action} {returning}",
                params,
            )
            for returned in cursor.fetchall():
                inserted = bool(returned[2]) if postgresql else returned[0] not in stored_keys
                written.append((returned[0], returned[1], inserted))
    return written
