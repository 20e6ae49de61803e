"""Analysts' feedback in the database: recording it, applying a split, reading it back.

A split ("not the same story") is applied at once: the report gets a story of its own and
its story-index rows move with it, so later clustering sees it as a report of the new
story (the index is how the clusterer finds neighbours, monitor.store.stories). It is never
undone: nothing re-clusters stored reports, and the clusterer only places new ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from monitor.canonical import canonical_url
from monitor.errors import FeedbackError
from monitor.store import tables as t
from monitor.store.engine import reading
from monitor.store.stories import STORY_LOCK, NeighbourCache
from monitor.store.tables import table_of as _table

NOT_RELEVANT, SPLIT, MISSED = "not_relevant", "split", "missed"
KINDS = (NOT_RELEVANT, SPLIT, MISSED)


@dataclass(frozen=True, slots=True)
class FeedbackRow:
    id: int
    kind: str
    story_id: int | None
    item_id: int | None
    split_story_id: int | None
    url: str | None
    topic: str
    note: str
    who: str
    created: datetime


@dataclass(frozen=True, slots=True)
class LabelRow:
    """A stored report as the label files carry it (monitor feedback export)."""

    item_id: int
    story_id: int | None
    source: str
    published: datetime | None
    link: str | None
    title: str
    summary: str


class FeedbackMixin:
    engine: Engine
    _neighbours: NeighbourCache

    def _story_exists(self, conn: sa.Connection, story_id: int) -> None:
        stories = _table(t.Story)
        if conn.execute(sa.select(stories.c.id).where(stories.c.id == story_id)).first() is None:
            raise FeedbackError(f"no story {story_id}")

    def _record(self, conn: sa.Connection, **values: Any) -> int:
        fb = _table(t.Feedback)
        values["note"] = values.get("note", "")[:2000]
        return int(conn.execute(sa.insert(fb).values(**values).returning(fb.c.id)).scalar_one())

    def mark_not_relevant(self, story_id: int, who: str, when: datetime, note: str = "") -> int:
        """Record that story `story_id` is not relevant; the feedback's id."""
        with self.engine.begin() as conn:
            self._story_exists(conn, story_id)
            return self._record(
                conn, kind=NOT_RELEVANT, story_id=story_id, who=who, created=when, note=note
            )

    def split_report(
        self, story_id: int, item_id: int, who: str, when: datetime, note: str = ""
    ) -> int:
        """Take report `item_id` out of story `story_id` into a story of its own, at once;
        the new story's id. FeedbackError when the report is not in that story or is its
        only report."""
        items, stories, keys = _table(t.Item), _table(t.Story), _table(t.StoryKey)
        with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":  # not while a pass places reports
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": STORY_LOCK})
            self._story_exists(conn, story_id)
            row = conn.execute(
                sa.select(
                    items.c.story_id, items.c.title, items.c.url, items.c.published, items.c.fetched
                ).where(items.c.id == item_id)
            ).first()
            if row is None or row.story_id != story_id:
                raise FeedbackError(f"report {item_id} is not in story {story_id}")
            others = conn.execute(
                sa.select(sa.func.count())
                .select_from(items)
                .where(items.c.story_id == story_id, items.c.id != item_id)
            ).scalar_one()
            if not others:
                raise FeedbackError(
                    f"report {item_id} is the only report of story {story_id}: nothing to split"
                )
            alert = conn.execute(
                sa.select(sa.func.count())
                .select_from(_table(t.ItemMatch))
                .where(
                    _table(t.ItemMatch).c.item_id == item_id,
                    _table(t.ItemMatch).c.severity == "alert",
                )
            ).scalar_one()
            new_id = int(
                conn.execute(
                    sa.insert(stories)
                    .values(
                        title=row.title,
                        url=row.url,
                        first_seen=row.fetched,
                        published=row.published,
                        severity="alert" if alert else "digest",
                    )
                    .returning(stories.c.id)
                ).scalar_one()
            )
            reason = f"split out of story {story_id} by {who}: not the same story"
            conn.execute(
                sa.update(items)
                .where(items.c.id == item_id)
                .values(story_id=new_id, story_reason=reason[:500])
            )
            conn.execute(sa.update(keys).where(keys.c.item_id == item_id).values(story_id=new_id))
            self._record(
                conn,
                kind=SPLIT,
                story_id=story_id,
                item_id=item_id,
                split_story_id=new_id,
                who=who,
                created=when,
                note=note,
            )
        self._neighbours.drop(item_id)  # it was cached as a report of the old story
        return new_id

    def mark_missed(
        self,
        who: str,
        when: datetime,
        *,
        item_id: int | None = None,
        url: str | None = None,
        topic: str = "",
        note: str = "",
    ) -> int:
        """Record an item the rules missed, by stored item id or by URL (matched against the
        stored items' links, as given or canonical, so tracking parameters do not hide it;
        kept as a URL alone when no item has it)."""
        items = _table(t.Item)
        with self.engine.begin() as conn:
            if item_id is not None:
                if conn.execute(sa.select(items.c.id).where(items.c.id == item_id)).first() is None:
                    raise FeedbackError(f"no stored item {item_id}")
            elif url:
                found = conn.execute(
                    sa.select(items.c.id)
                    .where(sa.or_(items.c.url == url, items.c.canonical_url == canonical_url(url)))
                    .order_by(items.c.id)
                    .limit(1)
                ).scalar()
                item_id = int(found) if found is not None else None
            else:
                raise FeedbackError("a missed item needs an item id or a URL")
            return self._record(
                conn,
                kind=MISSED,
                item_id=item_id,
                url=url,
                topic=topic,
                who=who,
                created=when,
                note=note,
            )

    def feedback(self, limit: int | None = None) -> list[FeedbackRow]:
        """Feedback, newest first."""
        fb = _table(t.Feedback)
        query = sa.select(
            fb.c.id,
            fb.c.kind,
            fb.c.story_id,
            fb.c.item_id,
            fb.c.split_story_id,
            fb.c.url,
            fb.c.topic,
            fb.c.note,
            fb.c.who,
            fb.c.created,
        ).order_by(fb.c.id.desc())
        if limit is not None:
            query = query.limit(limit)
        with reading(self.engine) as conn:
            return [FeedbackRow(**r._mapping) for r in conn.execute(query)]

    def label_rows(
        self, *, item_ids: list[int] | None = None, story_ids: list[int] | None = None
    ) -> list[LabelRow]:
        """Stored reports, by item id and by story, as label files carry them, by id."""
        items, feeds = _table(t.Item), _table(t.Feed)
        conds = []
        if item_ids:
            conds.append(items.c.id.in_(item_ids))
        if story_ids:
            conds.append(items.c.story_id.in_(story_ids))
        if not conds:
            return []
        with reading(self.engine) as conn:
            rows = conn.execute(
                sa.select(
                    items.c.id,
                    items.c.story_id,
                    feeds.c.name,
                    sa.func.coalesce(items.c.published, items.c.fetched),
                    items.c.url,
                    items.c.title,
                    items.c.summary,
                )
                .join(feeds, feeds.c.id == items.c.feed_id)
                .where(sa.or_(*conds))
                .order_by(items.c.id)
            ).all()
        return [LabelRow(r[0], r[1], r[2], _utc(r[3]), r[4], r[5], r[6] or "") for r in rows]


def _utc(value: Any) -> datetime | None:
    """COALESCE loses the column type: SQLite gives the stored (naive UTC) text back."""
    if value is None:
        return None
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
