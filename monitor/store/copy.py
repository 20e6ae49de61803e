"""`monitor db copy`: move a whole database (SQLite → PostgreSQL, typically) with its ledger.

The target is migrated to the current schema, must be empty, and receives every row of every
table in foreign-key order, so feeds' schedules, items, tombstones, stories and the delivery
ledger all survive the move and no story is sent twice after it.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import SQLModel

import monitor.store.tables  # noqa: F401  (registers the tables)
from monitor.errors import DatabaseError
from monitor.store.engine import check_schema, make_engine, upgrade

CHUNK = 1000


def copy_database(source_url: str, target_url: str) -> dict[str, int]:
    """Copy every row from source to target; return rows copied per table."""
    source = make_engine(source_url)
    try:
        check_schema(source)
        upgrade(target_url)
        target = make_engine(target_url)
        try:
            return _copy(source, target)
        finally:
            target.dispose()
    finally:
        source.dispose()


def _copy(source: sa.Engine, target: sa.Engine) -> dict[str, int]:
    tables = SQLModel.metadata.sorted_tables
    counts: dict[str, int] = {}
    with source.connect() as src, target.begin() as dst:
        for table in tables:
            if dst.execute(sa.select(sa.func.count()).select_from(table)).scalar_one():
                raise DatabaseError(
                    f"target database is not empty (table {table.name} has rows); "
                    "copy into a new, empty database"
                )
        for table in tables:
            n = 0
            result = src.execution_options(yield_per=CHUNK).execute(sa.select(table))
            for rows in result.mappings().partitions(CHUNK):
                dst.execute(sa.insert(table), [dict(r) for r in rows])
                n += len(rows)
            counts[table.name] = n
        if target.dialect.name == "postgresql":
            for table in tables:
                pk = list(table.primary_key.columns)
                if len(pk) == 1 and isinstance(pk[0].type, sa.Integer):
                    # Inserted ids bypassed the sequence: move it past the copied rows.
                    name, key = table.name, pk[0].name
                    dst.execute(
                        sa.text(
                            f"SELECT setval(pg_get_serial_sequence('{name}', '{key}'), "
                            f"coalesce((SELECT max({key}) FROM {name}), 0) + 1, false)"
                        )
                    )
    return counts
