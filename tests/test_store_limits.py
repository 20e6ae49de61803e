"""The store under hostile sizes and clocks (issue #18): lists longer than a statement's bind
parameters, a clock that ran years fast, a write lock held while others read, tombstones
that pile up. Real SQLite migrated by Alembic, real PostgreSQL where configured."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import run, write_config

from monitor.models import Item
from monitor.store import FetchOutcome, NewItem, Store, engine


def over_the_limit(url: str) -> int:
    """One more than a statement may have bind parameters on this database: PostgreSQL's
    65,535, or the SQLite library's own (32,766 by default, 250,000 in some builds)."""
    if not url.startswith("sqlite"):
        return 65_536
    with sqlite3.connect(":memory:") as conn:
        return conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) + 1


def items(feed_id: int, n: int, fetched: datetime) -> list[NewItem]:
    return [
        NewItem(
            Item(
                feed_id=feed_id,
                key=f"k{i}",
                url=f"https://news.example.org/{i}",
                title=f"Item {i}",
                summary="",
                published=None,
                fetched=fetched,
                content_hash=f"h{i}",
            ),
            f"https://news.example.org/{i}",
            (),
        )
        for i in range(n)
    ]


def test_lists_longer_than_a_statement_takes(db_url: str) -> None:
    now = datetime.now(UTC)
    many = over_the_limit(db_url)
    lease = timedelta(minutes=10)
    with Store(db_url) as store:
        feed = store.add_feed("http://127.0.0.1:9/many.xml", "many")
        new = items(feed.id, many, now)
        assert len(store.new_only(new)) == many
        assert len(store.add_items(new)) == many
        assert store.new_only(new) == []  # all known: the same long lists, read again
        # A long list of names (a scripted `check --feed ...`), and a pass that took many.
        names = [f"other{i}" for i in range(many)] + ["many"]
        assert [f.name for f in store.due_feeds(now, names=names)] == ["many"]
        others = range(feed.id + 1, feed.id + many)
        claimed = store.claim_feeds("x", now, lease, names=names, exclude=others)
        assert [f.name for f in claimed] == ["many"]
        assert store.claim_feeds("x", now, lease, exclude=[feed.id, *others]) == []


def test_reads_do_not_wait_for_a_writer(
    tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Another process holds SQLite's write lock (a pass storing a large feed). Health
    # checks, listings and the CLI read the last commit meanwhile; waiting for the lock,
    # they would fail after the busy timeout (shortened here to a second).
    monkeypatch.setattr(engine, "SQLITE_BUSY_TIMEOUT_S", 1)
    config = write_config(tmp_path, db_url=sqlite_url, feeds=[("f", "http://127.0.0.1:9/f.xml")])
    assert run(config, "feeds", "list").exit_code == 0  # the config's feed is stored
    writer = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("UPDATE feed SET note = 'uncommitted'")
        with Store(sqlite_url) as store:
            store.ping()
            (health,) = store.feed_health()
            assert health.name == "f"
            assert [f.name for f in store.due_feeds(datetime.now(UTC))] == ["f"]
            assert store.feed_state("f").name == "f"
            assert store.daemons() == [] and store.lease_owners() == []
            assert store.story_rows() == [] and store.story_items(1) == []
            assert store.item_with_matches(1) is None
            assert store.digests() == [] and store.pending_digests() == []
            assert store.digest(1) is None and store.digest_stories(1) == []
            assert store.last_digest_created("a@example.org", "digest") is None
            assert store.new_only(items(store.feed_state("f").id, 3, datetime.now(UTC)))
            with pytest.raises(sa.exc.OperationalError, match="locked"):
                store.record_fetch(1, FetchOutcome(datetime.now(UTC), datetime.now(UTC), True))
        result = run(config, "feeds", "list")
        assert result.exit_code == 0, result.output
        assert "127.0.0.1:9/f.xml" in result.output
        status = run(config, "status")  # feeds, the ledger and the next digests
        assert status.exit_code == 1 and "digests: 0 pending" in status.output, status.output
    finally:
        writer.close()


def test_a_read_only_transaction_on_postgresql_refuses_writes(pg_url: str) -> None:
    eng = engine.make_engine(pg_url)
    try:
        with pytest.raises(sa.exc.DBAPIError, match="read-only"), engine.reading(eng) as conn:
            conn.execute(sa.text("UPDATE feed SET note = 'x'"))
        with eng.begin() as conn:  # the connection is writable again once back in the pool
            conn.execute(sa.text("UPDATE feed SET note = 'x'"))
    finally:
        eng.dispose()


def test_tombstones_go_after_twice_the_retention(db_url: str) -> None:
    retention = timedelta(days=30)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    with Store(db_url) as store:
        feed = store.add_feed("http://127.0.0.1:9/f.xml", "f")
        old = items(feed.id, 3, t0)
        store.add_items(old)
        first = t0 + retention + timedelta(days=1)
        assert store.prune(first - retention, first) == 3
        assert store.new_only(old) == []  # tombstones: not new when the feed lists them
        # Within twice the retention of their pruning, tombstones stay.
        later = first + 2 * retention - timedelta(days=1)
        store.prune(later - retention, later)
        assert store.new_only(old) == []
        # Items stored since are pruned in their turn; the old tombstones go.
        newer = items(feed.id, 5, first)[3:]  # other keys and contents
        assert len(store.add_items(newer)) == 2
        last = first + 2 * retention + timedelta(days=1)
        assert store.prune(last - retention, last) == 2
        assert len(store.new_only(old)) == 3
        assert store.new_only(newer) == []
