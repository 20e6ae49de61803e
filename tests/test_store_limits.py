"""The store under hostile sizes and clocks (issue #18): lists longer than a statement's bind
parameters, a clock that ran years fast, a write lock held while others read, tombstones
that pile up. Real SQLite migrated by Alembic, real PostgreSQL where configured."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

from monitor.models import Item
from monitor.store import NewItem, Store


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
