"""The storage boundary: the only code that reads or writes SQL.

Callers hand in and get back the data objects of `monitor.models`; table rows stay here.
Transactions are short and never span network I/O: the pipeline fetches, then calls one
method per feed to write what it found.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from monitor.cluster.decide import ClusterSettings
from monitor.cluster.fingerprint import Fingerprint
from monitor.models import Item, Match, Span
from monitor.script import item_language
from monitor.store import tables as t
from monitor.store.digests import DigestRow, DigestsMixin
from monitor.store.engine import check_schema, make_engine, reading
from monitor.store.feedback import FeedbackMixin, FeedbackRow, LabelRow
from monitor.store.feeds import FeedHealth, FeedNotFound, FeedsMixin, FetchOutcome
from monitor.store.leases import LeasesMixin
from monitor.store.recent_keys import RecentKeys
from monitor.store.retention import RetentionMixin
from monitor.store.search import SearchMixin
from monitor.store.stories import (
    STORY_LOCK,
    DbStoryIndex,
    NeighbourCache,
    StoriesMixin,
    StoryItemRow,
    StoryRow,
)
from monitor.store.tables import chunks
from monitor.store.tables import table_of as _table

__all__ = [
    "DigestRow",
    "FeedHealth",
    "FeedNotFound",
    "FeedbackRow",
    "FetchOutcome",
    "LabelRow",
    "NewItem",
    "Store",
    "StoryItemRow",
    "StoryRow",
]


@dataclass(frozen=True, slots=True)
class NewItem:
    """An item to store with what the pipeline decided about it."""

    item: Item
    canonical_url: str | None
    matches: tuple[Match, ...]
    fingerprint: Fingerprint | None = None  # the story fingerprint, when already worked out


class Store(
    FeedsMixin,
    RetentionMixin,
    LeasesMixin,
    StoriesMixin,
    DigestsMixin,
    SearchMixin,
    FeedbackMixin,
):
    """One database: SQLite file or PostgreSQL. Opening checks the schema is current.

    `cluster_settings` is the story rule `add_items` applies (`[stories]` in config)."""

    def __init__(
        self, url: str, *, check: bool = True, cluster_settings: ClusterSettings | None = None
    ) -> None:
        self.url = url
        self.cluster_settings = cluster_settings or ClusterSettings()
        self._neighbours = NeighbourCache()
        self._recent = RecentKeys()
        self.engine: Engine = make_engine(url)
        if check:
            check_schema(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    @contextlib.contextmanager
    def story_pass(self) -> Iterator[None]:
        """Within this, story lookups take the rows written since it began from memory
        (monitor.store.recent_keys): a pass's reports are mostly looked up by its own."""
        self._recent.reset()
        self._recent.active = True
        try:
            yield
        finally:
            self._recent.active = False
            self._recent.reset()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _insert(self, table: sa.Table) -> Any:
        """An INSERT that can do nothing on conflict, in this engine's dialect."""
        if self.engine.dialect.name == "postgresql":
            # Imported here: an SQLite setup (most) never needs it, and it is not small.
            from sqlalchemy.dialects import postgresql

            return postgresql.insert(table)
        return sqlite.insert(table)

    # -- items, matches, stories --------------------------------------------------------

    def add_items(self, new: Sequence[NewItem]) -> list[NewItem]:
        """Store items of one feed idempotently; return those that were not stored before.

        The unique index (feed, key) decides what is new, so two writers never duplicate an
        item. Rows are written in batches (one multi-row INSERT ... RETURNING for the items,
        one for their matches): a statement per row made storing the slowest stage of a cold
        pass. Matching items are then placed into stories by the story clusterer (same
        canonical URL, same text, near-duplicate or same event: monitor.cluster), in the same
        transaction; on PostgreSQL a transaction-level advisory lock serialises story
        assignment between writers, SQLite has one writer at a time anyway.
        """
        if not new:
            return []
        try:
            with self.engine.begin() as conn:
                return self._add_items(conn, new)
        except BaseException:
            # Both may hold rows of the rolled-back transaction.
            self._neighbours.clear()
            self._recent.reset()
            raise

    def _add_items(self, conn: sa.Connection, new: Sequence[NewItem]) -> list[NewItem]:
        seen = self._seen_before(conn, new)  # tombstones, regenerated GUIDs
        todo: dict[tuple[int, str], NewItem] = {}
        for n in new:
            ident = (n.item.feed_id, n.item.key)
            if ident not in seen and ident not in todo:
                todo[ident] = n  # a repeated key in one batch: the first one wins
        ids = self._insert_items(conn, list(todo.values()))
        added = [n for ident, n in todo.items() if ident in ids]
        matched = [(ids[n.item.feed_id, n.item.key], n) for n in added if n.matches]
        if matched:
            self._add_matches(conn, matched)
            if self.engine.dialect.name == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": STORY_LOCK})
            self._recent.sync(conn)
            index = DbStoryIndex(conn, self._neighbours, self._recent)
            current: list[NewItem] = []
            clusterer = self._clusterer(conn, index, current)
            joins = []
            for item_id, n in matched:  # in feed order: a later copy joins an earlier one
                current[:] = [n]
                joins.append(self._assign_story(conn, clusterer, current, item_id))
            self._join_stories(conn, joins)
            index.flush()
            self._recent.settle(conn)
        return added

    def _insert_items(
        self, conn: sa.Connection, new: Sequence[NewItem]
    ) -> dict[tuple[int, str], int]:
        """Insert these items, skipping any (feed, key) already stored; the ids of the new."""
        if not new:
            return {}
        table = _table(t.Item)
        stmt = (
            self._insert(table)
            .on_conflict_do_nothing(index_elements=["feed_id", "key"])
            .returning(table.c.id, table.c.feed_id, table.c.key)
        )
        rows = [
            {
                "feed_id": n.item.feed_id,
                "key": n.item.key,
                "url": n.item.url,
                "canonical_url": n.canonical_url,
                "title": n.item.title,
                "summary": n.item.summary,
                "published": n.item.published,
                "fetched": n.item.fetched,
                "content_hash": n.item.content_hash,
            }
            for n in new
        ]
        return {(f, k): int(i) for i, f, k in conn.execute(stmt, rows)}

    def new_only(self, new: Sequence[NewItem]) -> list[NewItem]:
        """The items that `add_items` would store, without storing anything (dry runs)."""
        if not new:
            return []
        items = _table(t.Item)
        known: set[tuple[int, str]] = set()
        with reading(self.engine) as conn:
            for part in chunks(new):
                known.update(
                    (f, k)
                    for f, k in conn.execute(
                        sa.select(items.c.feed_id, items.c.key).where(
                            items.c.feed_id.in_({n.item.feed_id for n in part}),
                            items.c.key.in_([n.item.key for n in part]),
                        )
                    )
                )
            known |= self._seen_before(conn, new)
        return [n for n in new if (n.item.feed_id, n.item.key) not in known]

    def _add_matches(self, conn: sa.Connection, matched: Sequence[tuple[int, NewItem]]) -> None:
        """The match rows of these (item id, item) pairs, in one batch."""
        table = _table(t.ItemMatch)
        rows = [
            {
                "item_id": item_id,
                "rule_id": m.rule_id,
                "topic": m.topic,
                "severity": m.severity,
                "rule_version": m.rule_version,
                "spans": json.dumps(
                    [[s.field, s.start, s.end, s.text] for s in m.spans], ensure_ascii=False
                ),
            }
            for item_id, n in matched
            for m in n.matches
        ]
        if rows:
            conn.execute(self._insert(table).on_conflict_do_nothing(), rows)

    def item_with_matches(self, item_id: int) -> tuple[Item, list[Match]] | None:
        """A stored item (as an Item) and the matches recorded for it, or None."""
        items, feeds, matches = _table(t.Item), _table(t.Feed), _table(t.ItemMatch)
        with reading(self.engine) as conn:
            row = (
                conn.execute(
                    sa.select(items, feeds.c.name.label("source"), feeds.c.language)
                    .join(feeds, feeds.c.id == items.c.feed_id)
                    .where(items.c.id == item_id)
                )
                .mappings()
                .first()
            )
            if row is None:
                return None
            found = conn.execute(sa.select(matches).where(matches.c.item_id == item_id)).mappings()
            recorded = [
                Match(
                    m["rule_id"],
                    m["topic"],
                    m["severity"],
                    m["rule_version"],
                    tuple(Span(f, a, b, x) for f, a, b, x in json.loads(m["spans"] or "[]")),
                )
                for m in found
            ]
        item = Item(
            feed_id=row["feed_id"],
            key=row["key"],
            url=row["url"],
            title=row["title"],
            summary=row["summary"],
            published=row["published"],
            fetched=row["fetched"],
            content_hash=row["content_hash"],
            source=row["source"],
            language=item_language(row["language"], row["title"], row["summary"]),
        )
        return item, recorded

    # -- daemons -----------------------------------------------------------------------

    def beat(self, info: DaemonInfo) -> None:
        """Record a daemon's heartbeat (insert or update by id)."""
        with Session(self.engine) as s:
            row = s.get(t.DaemonBeat, info.id) or t.DaemonBeat(
                id=info.id, host=info.host, pid=info.pid, started=info.started
            )
            row.last_tick, row.next_tick, row.stopped = info.last_tick, info.next_tick, info.stopped
            s.add(row)
            s.commit()

    def daemons(self) -> list[DaemonInfo]:
        with reading(self.engine) as conn, Session(conn) as s:
            rows = s.exec(select(t.DaemonBeat).order_by(col(t.DaemonBeat.started).desc()))
            return [
                DaemonInfo(r.id, r.host, r.pid, r.started, r.last_tick, r.next_tick, r.stopped)
                for r in rows
            ]

    def maintenance(self) -> None:
        """Housekeeping: fold SQLite's write-ahead log back and refresh planner statistics."""
        with self.engine.connect() as conn:
            if self.engine.dialect.name == "sqlite":
                # Outside any transaction: a checkpoint cannot run inside one.
                raw = conn.connection.driver_connection
                assert raw is not None
                raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                raw.execute("PRAGMA optimize")
            else:
                conn.exec_driver_sql("ANALYZE")
                conn.commit()

    def ping(self) -> None:
        """Raise if the database does not answer."""
        with reading(self.engine) as conn:
            conn.execute(sa.text("SELECT 1"))


@dataclass(frozen=True, slots=True)
class DaemonInfo:
    id: str
    host: str
    pid: int
    started: datetime
    last_tick: datetime | None
    next_tick: datetime | None
    stopped: datetime | None
