"""The delivery ledger at the edges: more stories than one statement may bind, and an outbox
that cannot be written, with a real SMTP-less delivery into files on disk."""

from __future__ import annotations

import sqlite3

import sqlalchemy as sa
from test_digest_faults import NOW

from monitor.store import Store
from monitor.store import tables as t
from monitor.store.tables import UTCDateTime


def bulk_stories(store: Store, n: int) -> None:
    """n stories in one INSERT … SELECT (a recursive counter), far faster than n reports."""
    story = t.table_of(t.Story)
    seq = sa.select(sa.literal(1).label("n")).cte("seq", recursive=True)
    seq = seq.union_all(sa.select(seq.c.n + 1).where(seq.c.n < n))
    rows = sa.select(
        sa.literal("Bulk story ") + sa.cast(seq.c.n, sa.String),
        sa.literal(NOW, UTCDateTime()),
        sa.literal("digest"),
    )
    with store.engine.begin() as conn:
        conn.execute(sa.insert(story).from_select(["title", "first_seen", "severity"], rows))


def _limit_variables(dbapi_conn: sqlite3.Connection, _record: object) -> None:
    dbapi_conn.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 999)


def test_freeze_more_stories_than_one_statement_may_bind(db_url: str) -> None:
    # SQLite binds at most 32,766 parameters a statement (999 before 3.32), PostgreSQL 65,535.
    n = 66_000
    with Store(db_url) as store:
        if store.engine.dialect.name == "sqlite":
            # This build allows 250,000; hold it to 999, as SQLite builds before 3.32 do.
            sa.event.listen(store.engine, "connect", _limit_variables)
            store.engine.dispose()
        bulk_stories(store, n)
        ids = store.undelivered_story_ids("analyst@example.org")
        assert len(ids) == n
        copy = store.freeze_digest("analyst@example.org", ids, "<big@example.org>", NOW)
        assert copy is not None
        row = store.digest(copy)
        assert row is not None and (row.status, row.story_count) == ("pending", n)
        assert sorted(store.digest_stories(copy)) == sorted(ids)
        assert store.undelivered_story_ids("analyst@example.org") == []
