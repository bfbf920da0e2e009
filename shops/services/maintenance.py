"""Database upkeep that services trigger after bulk writes."""

from __future__ import annotations

from django.db import connection, models


def table_statistics_refresh(*, models_changed: list[type[models.Model]]) -> None:
    """Refresh PostgreSQL's planner statistics after a bulk load.

    Without it the planner still believes the tables are empty until autovacuum gets to them,
    and picks nested loops that turn the next aggregate over a few hundred thousand order lines
    from under a second into minutes. SQLite plans without such statistics: nothing to do there.
    """
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for model in models_changed:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")
