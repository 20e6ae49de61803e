"""The storage boundary: the only code that reads or writes SQL.

Callers hand in and get back the data objects of `monitor.models`; table rows stay here.
Transactions are short and never span network I/O: the pipeline fetches, then calls one
method per feed to write what it found.
"""

from __future__ import annotations

import contextlib
import json
from collections import defaultdict
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
from monitor.models import Item, Match, Span, StoryEntry
from monitor.store import tables as t
from monitor.store.engine import check_schema, make_engine
from monitor.store.feeds import FeedHealth, FeedNotFound, FeedsMixin, FetchOutcome
from monitor.store.leases import LeasesMixin
from monitor.store.recent_keys import RecentKeys
from monitor.store.retention import RetentionMixin
from monitor.store.stories import (
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
    "FetchOutcome",
    "NewItem",
    "Store",
    "StoryItemRow",
    "StoryRow",
]


_STORY_LOCK = 0x53544F52  # "STOR": the advisory lock around story assignment (PostgreSQL)


@dataclass(frozen=True, slots=True)
class NewItem:
    """An item to store with what the pipeline decided about it."""

    item: Item
    canonical_url: str | None
    matches: tuple[Match, ...]
    fingerprint: Fingerprint | None = None  # the story fingerprint, when already worked out


@dataclass(frozen=True, slots=True)
class DigestRow:
    id: int
    recipient: str
    kind: str
    created: datetime
    status: str
    sent_at: datetime | None
    message_id: str
    attempts: int
    error: str | None
    story_count: int
    next_attempt: datetime | None = None
    last_attempt: datetime | None = None
    uncertain: bool = False
    shown: int | None = None


class Store(FeedsMixin, RetentionMixin, LeasesMixin, StoriesMixin):
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
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _STORY_LOCK})
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
        feed_ids = {n.item.feed_id for n in new}
        with self.engine.connect() as conn:
            known = {
                (f, k)
                for f, k in conn.execute(
                    sa.select(items.c.feed_id, items.c.key).where(
                        items.c.feed_id.in_(feed_ids), items.c.key.in_([n.item.key for n in new])
                    )
                )
            }
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
        with self.engine.connect() as conn:
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
            language=row["language"],
        )
        return item, recorded

    def item_count(self) -> int:
        with Session(self.engine) as s:
            return int(s.exec(select(sa.func.count()).select_from(t.Item)).one())

    # -- digests -----------------------------------------------------------------------

    def undelivered_story_ids(
        self,
        recipient: str,
        *,
        topics: Sequence[str] = (),
        min_severity: str = "digest",
        limit: int | None = None,
        kind: str = "digest",
        since: datetime | None = None,
    ) -> list[int]:
        """Stories not yet frozen into a digest of this kind for `recipient`, newest first."""
        stories, items, matches, ds = (
            _table(x) for x in (t.Story, t.Item, t.ItemMatch, t.DigestStory)
        )
        delivered = sa.select(ds.c.story_id).where(ds.c.recipient == recipient, ds.c.kind == kind)
        fresh: sa.ColumnElement[bool] = stories.c.id.not_in(delivered)
        if kind == "digest":  # a delivered story with an update not yet sent goes again
            fresh = sa.or_(fresh, sa.exists().where(self._unsent_updates(recipient, kind)))
        query = sa.select(stories.c.id).where(fresh)
        if min_severity == "alert":
            query = query.where(stories.c.severity == "alert")
        if since is not None:
            query = query.where(stories.c.first_seen >= since)
        if topics:
            query = query.where(
                sa.exists().where(
                    items.c.story_id == stories.c.id,
                    matches.c.item_id == items.c.id,
                    matches.c.topic.in_(list(topics)),
                )
            )
        newest = sa.func.coalesce(stories.c.published, stories.c.first_seen)
        query = query.order_by(newest.desc(), stories.c.id.desc())
        if limit is not None:
            query = query.limit(limit)
        with self.engine.connect() as conn:
            return [int(x) for x in conn.execute(query).scalars()]

    def _unsent_updates(self, recipient: str, kind: str) -> sa.ColumnElement[bool]:
        """Condition on story_update rows: this story's updates not yet frozen for them."""
        stories, su, du = (_table(x) for x in (t.Story, t.StoryUpdate, t.DigestUpdate))
        sent = sa.select(du.c.update_id).where(du.c.recipient == recipient, du.c.kind == kind)
        return sa.and_(su.c.story_id == stories.c.id, su.c.id.not_in(sent))

    def _freeze_updates(
        self, conn: sa.Connection, digest_id: int, recipient: str, kind: str, ids: Sequence[int]
    ) -> None:
        """Record the stories' unsent updates as frozen into this digest."""
        su, du = _table(t.StoryUpdate), _table(t.DigestUpdate)
        if kind != "digest" or not ids:
            return
        sent = sa.select(du.c.update_id).where(du.c.recipient == recipient, du.c.kind == kind)
        for chunk in chunks(list(ids), 500):
            rows = conn.execute(
                sa.select(su.c.id).where(su.c.story_id.in_(chunk), su.c.id.not_in(sent))
            ).scalars()
            values = [
                {"digest_id": digest_id, "recipient": recipient, "kind": kind, "update_id": u}
                for u in rows
            ]
            if values:
                conn.execute(self._insert(du).values(values).on_conflict_do_nothing())

    def undelivered_stories(
        self,
        recipient: str,
        *,
        topics: Sequence[str] = (),
        min_severity: str = "digest",
        limit: int | None = None,
        kind: str = "digest",
        since: datetime | None = None,
    ) -> list[StoryEntry]:
        """The StoryEntry objects of `undelivered_story_ids`, newest first."""
        ids = self.undelivered_story_ids(
            recipient,
            topics=topics,
            min_severity=min_severity,
            limit=limit,
            kind=kind,
            since=since,
        )
        return self.stories_by_ids(ids, recipient=recipient)

    def stories_by_ids(
        self, story_ids: Sequence[int], *, recipient: str | None = None
    ) -> list[StoryEntry]:
        """These stories as a digest shows them, in the given order (unknown ids skipped).

        With `recipient`, `alerted` tells whether the story was frozen into an alert for them.
        `highlights` are the stored match spans of the story's title and of the item whose
        summary is shown, with offsets into those original texts.
        """
        stories, items, matches, feeds, ds = (
            _table(x) for x in (t.Story, t.Item, t.ItemMatch, t.Feed, t.DigestStory)
        )
        ids = list(dict.fromkeys(story_ids))
        rows: dict[int, Any] = {}
        detail: list[Any] = []
        alerted: set[int] = set()
        with self.engine.connect() as conn:
            for chunk in chunks(ids, 500):
                rows.update(
                    (r["id"], r)
                    for r in conn.execute(
                        sa.select(stories).where(stories.c.id.in_(chunk))
                    ).mappings()
                )
                detail += conn.execute(
                    sa.select(
                        items.c.story_id,
                        items.c.id,
                        items.c.title,
                        items.c.summary,
                        feeds.c.name,
                        matches.c.topic,
                        matches.c.rule_id,
                        matches.c.spans,
                    )
                    .join(feeds, feeds.c.id == items.c.feed_id)
                    .join(matches, matches.c.item_id == items.c.id, isouter=True)
                    .where(items.c.story_id.in_(chunk))
                    .order_by(items.c.id, matches.c.id)
                ).all()
                if recipient is not None:
                    alerted.update(
                        conn.execute(
                            sa.select(ds.c.story_id).where(
                                ds.c.recipient == recipient,
                                ds.c.kind == "alert",
                                ds.c.story_id.in_(chunk),
                            )
                        ).scalars()
                    )
        updates = self._update_reasons(ids, recipient) if recipient is not None else {}
        acc: dict[int, _StoryAcc] = defaultdict(_StoryAcc)
        for story_id, item_id, title, summary, outlet, topic, rule_id, spans in detail:
            a = acc[story_id]
            a.outlets[outlet] = None
            if a.summary_item is None and summary:
                a.summary_item, a.summary = item_id, summary
            a.titles.setdefault(item_id, title)
            if topic:
                a.topics[topic] = None
                a.rules[rule_id] = None
                for field_, start, end, text in json.loads(spans or "[]"):
                    a.terms[text] = None
                    a.spans.append((item_id, Span(field_, int(start), int(end), text)))
        out = []
        for sid in ids:
            r = rows.get(sid)
            if r is None:
                continue
            a = acc[sid]
            title_item = next((i for i, ti in a.titles.items() if ti == r["title"]), None)
            highlights = tuple(
                span
                for item_id, span in a.spans
                if (span.field == "title" and item_id == title_item)
                or (span.field == "summary" and item_id == a.summary_item)
            )
            out.append(
                StoryEntry(
                    story_id=sid,
                    title=r["title"],
                    url=r["url"],
                    summary=a.summary,
                    published=r["published"],
                    first_seen=r["first_seen"],
                    outlets=tuple(a.outlets),
                    topics=tuple(a.topics),
                    rules=tuple(a.rules),
                    severity=r["severity"],
                    terms=tuple(a.terms),
                    alerted=sid in alerted,
                    highlights=highlights,
                    update=updates.get(sid),
                )
            )
        return out

    def _update_reasons(self, story_ids: Sequence[int], recipient: str) -> dict[int, str]:
        """Story → what its updates added, for stories this recipient already had in an
        earlier digest and whose updates are unsent or in a digest not yet sent."""
        su, du, ds, dg = (
            _table(x) for x in (t.StoryUpdate, t.DigestUpdate, t.DigestStory, t.Digest)
        )
        out: dict[int, list[str]] = defaultdict(list)
        with self.engine.connect() as conn:
            for chunk in chunks(list(story_ids), 500):
                rows = conn.execute(
                    sa.select(
                        su.c.story_id, su.c.reason, du.c.digest_id, dg.c.status, ds.c.digest_id
                    )
                    .join(
                        ds,
                        sa.and_(
                            ds.c.story_id == su.c.story_id,
                            ds.c.recipient == recipient,
                            ds.c.kind == "digest",
                        ),
                    )
                    .join(
                        du,
                        sa.and_(
                            du.c.update_id == su.c.id,
                            du.c.recipient == recipient,
                            du.c.kind == "digest",
                        ),
                        isouter=True,
                    )
                    .join(dg, dg.c.id == du.c.digest_id, isouter=True)
                    .where(su.c.story_id.in_(chunk))
                    .order_by(su.c.id)
                )
                for sid, reason, update_digest, status, first_digest in rows:
                    if update_digest == first_digest:
                        continue  # frozen with the story's first delivery: not news then
                    if update_digest is None or status != "sent":
                        out[sid].append(reason)
        return {sid: "; ".join(dict.fromkeys(r)) for sid, r in out.items()}

    def topic_activity(self, since: datetime) -> list[tuple[str, datetime]]:
        """(topic, when) of every story published (else first seen) since `since`, once per
        topic: the counts behind the digest's 7-day view."""
        stories, items, matches = (_table(x) for x in (t.Story, t.Item, t.ItemMatch))
        when = sa.func.coalesce(stories.c.published, stories.c.first_seen)
        query = (
            sa.select(matches.c.topic, stories.c.id, stories.c.published, stories.c.first_seen)
            .join(items, items.c.id == matches.c.item_id)
            .join(stories, stories.c.id == items.c.story_id)
            .where(when >= since)
            .distinct()
        )
        with self.engine.connect() as conn:
            return [(topic, pub or seen) for topic, _sid, pub, seen in conn.execute(query)]

    def freeze_digest(
        self,
        recipient: str,
        story_ids: Sequence[int],
        message_id: str,
        now: datetime,
        kind: str = "digest",
    ) -> int | None:
        """Record a pending digest holding these stories; None when another run froze them first."""
        ds = _table(t.DigestStory)
        try:
            with Session(self.engine) as s:
                digest = t.Digest(
                    recipient=recipient,
                    kind=kind,
                    created=now,
                    status="pending",
                    message_id=message_id,
                    story_count=len(story_ids),
                )
                s.add(digest)
                s.flush()
                assert digest.id is not None
                conn = s.connection()
                # A story already delivered to them goes again only for its updates.
                again = set(
                    conn.execute(
                        sa.select(ds.c.story_id).where(
                            ds.c.recipient == recipient,
                            ds.c.kind == kind,
                            ds.c.story_id.in_(list(story_ids)),
                        )
                    ).scalars()
                )
                first = [sid for sid in story_ids if sid not in again]
                if first:
                    s.execute(
                        sa.insert(ds),
                        [
                            {
                                "digest_id": digest.id,
                                "recipient": recipient,
                                "kind": kind,
                                "story_id": sid,
                            }
                            for sid in first
                        ],
                    )
                self._freeze_updates(conn, digest.id, recipient, kind, story_ids)
                s.commit()
                return digest.id
        except sa.exc.IntegrityError:
            return None

    def extend_digest(self, digest_id: int, story_ids: Sequence[int]) -> int:
        """Add stories to a pending digest that was certainly never delivered; return how many.

        Stories already frozen for this recipient and kind are skipped by the unique index.
        """
        ds = _table(t.DigestStory)
        if not story_ids:
            return 0
        with self.engine.begin() as conn:
            d = (
                conn.execute(sa.select(_table(t.Digest)).where(_table(t.Digest).c.id == digest_id))
                .mappings()
                .one_or_none()
            )
            if d is None or d["status"] != "pending" or d["uncertain"]:
                return 0
            added = 0
            for sid in story_ids:
                res = conn.execute(
                    self._insert(ds)
                    .values(
                        digest_id=digest_id, recipient=d["recipient"], kind=d["kind"], story_id=sid
                    )
                    .on_conflict_do_nothing()
                )
                added += res.rowcount or 0
            self._freeze_updates(conn, digest_id, d["recipient"], d["kind"], story_ids)
            total = conn.execute(
                sa.select(sa.func.count()).select_from(ds).where(ds.c.digest_id == digest_id)
            ).scalar_one()
            conn.execute(
                sa.update(_table(t.Digest))
                .where(_table(t.Digest).c.id == digest_id)
                .values(story_count=total)
            )
            return added

    def mark_digest(
        self,
        digest_id: int,
        status: str,
        now: datetime,
        error: str | None = None,
        *,
        next_attempt: datetime | None = None,
        uncertain: bool = False,
        shown: int | None = None,
    ) -> None:
        """Record the outcome of a delivery attempt: 'sent', 'pending' (retry) or 'failed'.

        `uncertain` says the attempt may have delivered the message (connection lost after the
        final "."); once set it stays set until the digest is sent.
        """
        with Session(self.engine) as s:
            d = s.get(t.Digest, digest_id)
            if d is None:
                return
            d.status, d.error = status, error
            d.attempts += 1
            d.last_attempt = now
            d.next_attempt = next_attempt if status == "pending" else None
            d.uncertain = d.uncertain or uncertain
            if shown is not None:
                d.shown = shown
            if status == "sent":
                d.sent_at = now
            d.claimed_by = d.claimed_until = None  # this attempt is over
            s.add(d)
            s.commit()

    def digest_stories(self, digest_id: int) -> list[int]:
        """The stories frozen into a digest: first deliveries, then stories sent as updates."""
        su, du = _table(t.StoryUpdate), _table(t.DigestUpdate)
        with Session(self.engine) as s:
            ids = list(
                s.exec(
                    select(t.DigestStory.story_id)
                    .where(t.DigestStory.digest_id == digest_id)
                    .order_by(col(t.DigestStory.id))
                )
            )
            ids += (
                s.connection()
                .execute(
                    sa.select(su.c.story_id)
                    .join(du, du.c.update_id == su.c.id)
                    .where(du.c.digest_id == digest_id)
                    .order_by(du.c.id)
                )
                .scalars()
            )
        return list(dict.fromkeys(ids))

    def digest(self, digest_id: int) -> DigestRow | None:
        with Session(self.engine) as s:
            d = s.get(t.Digest, digest_id)
            return _digest_row(d) if d is not None else None

    def requeue_digest(self, digest_id: int) -> DigestRow | None:
        """Make a failed or pending copy pending and due now; None if there is no such copy."""
        with Session(self.engine) as s:
            d = s.get(t.Digest, digest_id)
            if d is None or d.status not in ("failed", "pending"):
                return None
            d.status, d.next_attempt = "pending", None
            s.add(d)
            s.commit()
            s.refresh(d)
            return _digest_row(d)

    def pending_digests(
        self,
        *,
        recipient: str | None = None,
        kind: str | None = None,
        due: datetime | None = None,
    ) -> list[DigestRow]:
        """Pending digests, oldest first; with `due`, only those whose next attempt has come."""
        query = select(t.Digest).where(t.Digest.status == "pending")
        if recipient is not None:
            query = query.where(t.Digest.recipient == recipient)
        if kind is not None:
            query = query.where(t.Digest.kind == kind)
        if due is not None:
            query = query.where(
                sa.or_(col(t.Digest.next_attempt).is_(None), col(t.Digest.next_attempt) <= due)
            )
        with Session(self.engine) as s:
            return [_digest_row(d) for d in s.exec(query.order_by(col(t.Digest.id)))]

    def last_digest_created(self, recipient: str, kind: str) -> datetime | None:
        """When the newest digest of this kind was frozen for `recipient` (any status)."""
        with Session(self.engine) as s:
            value = s.exec(
                select(sa.func.max(t.Digest.created)).where(
                    t.Digest.recipient == recipient, t.Digest.kind == kind
                )
            ).one()
        if value is None:
            return None
        return _utc(value)

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
        with Session(self.engine) as s:
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
        with self.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))

    def digests(self, *, status: str | None = None, limit: int = 100) -> list[DigestRow]:
        query = select(t.Digest).order_by(col(t.Digest.id).desc()).limit(limit)
        if status:
            query = query.where(t.Digest.status == status)
        with Session(self.engine) as s:
            return [_digest_row(d) for d in s.exec(query)]


class _StoryAcc:
    """What `stories_by_ids` gathers about one story from its items and matches."""

    def __init__(self) -> None:
        self.outlets: dict[str, None] = {}
        self.topics: dict[str, None] = {}
        self.rules: dict[str, None] = {}
        self.terms: dict[str, None] = {}
        self.titles: dict[int, str] = {}
        self.summary = ""
        self.summary_item: int | None = None
        self.spans: list[tuple[int, Span]] = []


def _digest_row(d: t.Digest) -> DigestRow:
    return DigestRow(
        d.id or 0,
        d.recipient,
        d.kind,
        d.created,
        d.status,
        d.sent_at,
        d.message_id,
        d.attempts,
        d.error,
        d.story_count,
        next_attempt=d.next_attempt,
        last_attempt=d.last_attempt,
        uncertain=d.uncertain,
        shown=d.shown,
    )


def _utc(value: Any) -> datetime:
    """A max() over a UTC column comes back raw on SQLite (a naive datetime or a string)."""
    from datetime import UTC

    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)  # type: ignore[no-any-return]


@dataclass(frozen=True, slots=True)
class DaemonInfo:
    id: str
    host: str
    pid: int
    started: datetime
    last_tick: datetime | None
    next_tick: datetime | None
    stopped: datetime | None
