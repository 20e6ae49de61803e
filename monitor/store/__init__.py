"""The storage boundary: the only code that reads or writes SQL.

Callers hand in and get back the data objects of `monitor.models`; table rows stay here.
Transactions are short and never span network I/O: the pipeline fetches, then calls one
method per feed to write what it found.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from monitor.models import Item, Match, StoryEntry
from monitor.store import tables as t
from monitor.store.engine import check_schema, make_engine
from monitor.store.feeds import FeedHealth, FeedNotFound, FeedsMixin, FetchOutcome
from monitor.store.retention import RetentionMixin

__all__ = [
    "DigestRow",
    "FeedHealth",
    "FeedNotFound",
    "FetchOutcome",
    "NewItem",
    "Store",
]


@dataclass(frozen=True, slots=True)
class NewItem:
    """An item to store with what the pipeline decided about it."""

    item: Item
    canonical_url: str | None
    matches: tuple[Match, ...]


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


class Store(FeedsMixin, RetentionMixin):
    """One database: SQLite file or PostgreSQL. Opening checks the schema is current."""

    def __init__(self, url: str, *, check: bool = True) -> None:
        self.url = url
        self.engine: Engine = make_engine(url)
        if check:
            check_schema(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _insert(self, table: sa.Table) -> Any:
        """An INSERT that can do nothing on conflict, in this engine's dialect."""
        if self.engine.dialect.name == "postgresql":
            return postgresql.insert(table)
        return sqlite.insert(table)

    # -- items, matches, stories --------------------------------------------------------

    def add_items(self, new: Sequence[NewItem]) -> list[NewItem]:
        """Store items of one feed idempotently; return those that were not stored before.

        The unique index (feed, key) decides what is new, so two writers never duplicate an
        item. Matching items join a story by canonical URL or start one.
        """
        if not new:
            return []
        table = _table(t.Item)
        added: list[NewItem] = []
        with self.engine.begin() as conn:
            seen = self._seen_before(conn, new)  # tombstones, regenerated GUIDs
            for n in new:
                it = n.item
                if (it.feed_id, it.key) in seen:
                    continue
                stmt = (
                    self._insert(table)
                    .values(
                        feed_id=it.feed_id,
                        key=it.key,
                        url=it.url,
                        canonical_url=n.canonical_url,
                        title=it.title,
                        summary=it.summary,
                        published=it.published,
                        fetched=it.fetched,
                        content_hash=it.content_hash,
                    )
                    .on_conflict_do_nothing(index_elements=["feed_id", "key"])
                    .returning(table.c.id)
                )
                item_id = conn.execute(stmt).scalar()
                if item_id is None:
                    continue
                added.append(n)
                if n.matches:
                    self._add_matches(conn, item_id, n.matches)
                    story_id = self._story_for(conn, n)
                    conn.execute(
                        sa.update(table).where(table.c.id == item_id).values(story_id=story_id)
                    )
        return added

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

    def _add_matches(self, conn: sa.Connection, item_id: int, matches: Sequence[Match]) -> None:
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
            for m in matches
        ]
        conn.execute(self._insert(table).values(rows).on_conflict_do_nothing())

    def _story_for(self, conn: sa.Connection, n: NewItem) -> int:
        """The story this item joins: one already holding its canonical URL, else a new one."""
        items, stories = _table(t.Item), _table(t.Story)
        severity = "alert" if any(m.severity == "alert" for m in n.matches) else "digest"
        if n.canonical_url:
            existing = conn.execute(
                sa.select(items.c.story_id)
                .where(items.c.canonical_url == n.canonical_url, items.c.story_id.is_not(None))
                .limit(1)
            ).scalar()
            if existing is not None:
                if severity == "alert":
                    conn.execute(
                        sa.update(stories).where(stories.c.id == existing).values(severity="alert")
                    )
                return int(existing)
        it = n.item
        return int(
            conn.execute(
                sa.insert(stories)
                .values(
                    title=it.title,
                    url=it.url,
                    first_seen=it.fetched,
                    published=it.published,
                    severity=severity,
                )
                .returning(stories.c.id)
            ).scalar_one()
        )

    def item_count(self) -> int:
        with Session(self.engine) as s:
            return int(s.exec(select(sa.func.count()).select_from(t.Item)).one())

    # -- digests -----------------------------------------------------------------------

    def undelivered_stories(
        self,
        recipient: str,
        *,
        topics: Sequence[str] = (),
        min_severity: str = "digest",
        limit: int | None = None,
        kind: str = "digest",
    ) -> list[StoryEntry]:
        """Stories not yet frozen into a digest of this kind for `recipient`, newest first."""
        stories, items, matches, feeds, ds = (
            _table(x) for x in (t.Story, t.Item, t.ItemMatch, t.Feed, t.DigestStory)
        )
        delivered = sa.select(ds.c.story_id).where(ds.c.recipient == recipient, ds.c.kind == kind)
        query = sa.select(stories).where(stories.c.id.not_in(delivered))
        if min_severity == "alert":
            query = query.where(stories.c.severity == "alert")
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
            rows = conn.execute(query).mappings().all()
            ids = [r["id"] for r in rows]
            detail = (
                conn.execute(
                    sa.select(
                        items.c.story_id,
                        items.c.id,
                        items.c.summary,
                        feeds.c.name,
                        matches.c.topic,
                        matches.c.rule_id,
                        matches.c.spans,
                    )
                    .join(feeds, feeds.c.id == items.c.feed_id)
                    .join(matches, matches.c.item_id == items.c.id, isouter=True)
                    .where(items.c.story_id.in_(ids))
                    .order_by(items.c.id)
                ).all()
                if ids
                else []
            )
        acc: dict[int, dict[str, dict[str, None]]] = defaultdict(
            lambda: {"outlets": {}, "topics": {}, "rules": {}, "terms": {}, "summary": {}}
        )
        for story_id, _item_id, summary, outlet, topic, rule_id, spans in detail:
            a = acc[story_id]
            a["outlets"][outlet] = None
            a["summary"].setdefault(summary or "", None)
            if topic:
                a["topics"][topic] = None
                a["rules"][rule_id] = None
                for span in json.loads(spans or "[]"):
                    a["terms"][span[3]] = None
        out = []
        for r in rows:
            a = acc[r["id"]]
            out.append(
                StoryEntry(
                    story_id=r["id"],
                    title=r["title"],
                    url=r["url"],
                    summary=next(iter(a["summary"]), ""),
                    published=r["published"],
                    first_seen=r["first_seen"],
                    outlets=tuple(a["outlets"]),
                    topics=tuple(a["topics"]),
                    rules=tuple(a["rules"]),
                    severity=r["severity"],
                    terms=tuple(a["terms"]),
                )
            )
        return out

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
                if story_ids:
                    s.execute(
                        sa.insert(ds),
                        [
                            {
                                "digest_id": digest.id,
                                "recipient": recipient,
                                "kind": kind,
                                "story_id": sid,
                            }
                            for sid in story_ids
                        ],
                    )
                s.commit()
                return digest.id
        except sa.exc.IntegrityError:
            return None

    def mark_digest(
        self, digest_id: int, status: str, now: datetime, error: str | None = None
    ) -> None:
        """Record the outcome of a delivery attempt: 'sent', 'pending' (retry) or 'failed'."""
        with Session(self.engine) as s:
            d = s.get(t.Digest, digest_id)
            if d is None:
                return
            d.status, d.error = status, error
            d.attempts += 1
            if status == "sent":
                d.sent_at = now
            s.add(d)
            s.commit()

    def digest_stories(self, digest_id: int) -> list[int]:
        with Session(self.engine) as s:
            return list(
                s.exec(select(t.DigestStory.story_id).where(t.DigestStory.digest_id == digest_id))
            )

    def digests(self, *, status: str | None = None, limit: int = 100) -> list[DigestRow]:
        query = select(t.Digest).order_by(col(t.Digest.id).desc()).limit(limit)
        if status:
            query = query.where(t.Digest.status == status)
        with Session(self.engine) as s:
            return [
                DigestRow(
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
                )
                for d in s.exec(query)
            ]


def _table(model: type[Any]) -> sa.Table:
    return model.__table__  # type: ignore[no-any-return]
