"""Digests in the database: which stories a recipient has not had yet, freezing them into a
digest (the delivery ledger: one row per recipient copy), its attempts and their outcomes.

A story is frozen into at most one digest of a kind per recipient (a unique index), and goes
again only with updates not yet sent to them. `monitor.deliver` decides when and what to
send; this module only records it.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from monitor.models import Span, StoryEntry
from monitor.script import item_language
from monitor.store import tables as t
from monitor.store.engine import reading
from monitor.store.tables import chunks
from monitor.store.tables import table_of as _table


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


class DigestsMixin:
    engine: Engine

    def _insert(self, table: sa.Table) -> Any:  # provided by Store
        raise NotImplementedError

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
                        feeds.c.language,
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
        for story_id, item_id, title, summary, outlet, language, topic, rule_id, spans in detail:
            a = acc[story_id]
            a.outlets[outlet] = None
            a.languages.setdefault(item_id, language)
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
                    # The language of the item whose title the story shows (see script.py).
                    language=item_language(
                        a.languages.get(title_item, "") if title_item is not None else "",
                        r["title"],
                        a.summary if title_item == a.summary_item else "",
                    ),
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
                # In slices: SQLite and PostgreSQL bound the parameters of one statement.
                again: set[int] = set()
                for chunk in chunks(list(story_ids), 500):
                    again.update(
                        conn.execute(
                            sa.select(ds.c.story_id).where(
                                ds.c.recipient == recipient,
                                ds.c.kind == kind,
                                ds.c.story_id.in_(chunk),
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

    def extend_digest(self, digest_id: int, story_ids: Sequence[int], now: datetime) -> int | None:
        """Add stories to a pending copy that was certainly never delivered and that no
        delivery attempt holds; return how many were added, None when the copy took none.

        A copy under a live claim is being sent from the stories it held when claimed, so a
        story added now would be marked delivered without having been in the mail: it is
        refused, and the caller freezes the story into another copy. A claim that has expired
        is broken here, so its late sender's "sent" is recorded as superseded (`mark_digest`)
        and the copy goes again with the new story. Stories already frozen for this recipient
        and kind are skipped by the unique index.
        """
        ds, dg = _table(t.DigestStory), _table(t.Digest)
        if not story_ids:
            return 0
        with self.engine.begin() as conn:
            # The row lock (PostgreSQL; SQLite's BEGIN IMMEDIATE serialises anyway) makes a
            # claim wait for this transaction, so its sender reads the stories added here.
            d = (
                conn.execute(sa.select(dg).where(dg.c.id == digest_id).with_for_update())
                .mappings()
                .one_or_none()
            )
            if d is None or d["status"] != "pending" or d["uncertain"]:
                return None
            if d["claimed_until"] is not None and d["claimed_until"] >= now:
                return None
            added = 0
            for chunk in chunks(list(story_ids), 200):  # 4 parameters a row
                res = conn.execute(
                    self._insert(ds)
                    .values(
                        [
                            {
                                "digest_id": digest_id,
                                "recipient": d["recipient"],
                                "kind": d["kind"],
                                "story_id": sid,
                            }
                            for sid in chunk
                        ]
                    )
                    .on_conflict_do_nothing()
                    .returning(ds.c.id)  # rowcount of a multi-row VALUES is -1 on psycopg
                )
                added += len(res.all())
            self._freeze_updates(conn, digest_id, d["recipient"], d["kind"], story_ids)
            total = conn.execute(
                sa.select(sa.func.count()).select_from(ds).where(ds.c.digest_id == digest_id)
            ).scalar_one()
            conn.execute(
                sa.update(dg)
                .where(dg.c.id == digest_id)
                .values(story_count=total, claimed_by=None, claimed_until=None)
            )
            return added

    def mark_digest(
        self,
        digest_id: int,
        status: str,
        now: datetime,
        error: str | None = None,
        *,
        claim: str,
        next_attempt: datetime | None = None,
        uncertain: bool = False,
        shown: int | None = None,
    ) -> bool:
        """Record the outcome of the delivery attempt holding `claim`: 'sent', 'pending'
        (retry) or 'failed'. False, recording nothing, when the copy is no longer under that
        claim (it expired and was taken over, or new stories were added since): the attempt
        was superseded and the copy's ledger belongs to whoever holds it now.

        `uncertain` says the attempt may have delivered the message (connection lost after the
        final "."); once set it stays set until the digest is sent.
        """
        dg = _table(t.Digest)
        values: dict[str, Any] = {
            "status": status,
            "error": error,
            "attempts": dg.c.attempts + 1,
            "last_attempt": now,
            "next_attempt": next_attempt if status == "pending" else None,
            "uncertain": sa.or_(dg.c.uncertain, sa.literal(uncertain)),
            "claimed_by": None,  # this attempt is over
            "claimed_until": None,
        }
        if shown is not None:
            values["shown"] = shown
        if status == "sent":
            values["sent_at"] = now
        with self.engine.begin() as conn:
            result = conn.execute(
                sa.update(dg).where(dg.c.id == digest_id, dg.c.claimed_by == claim).values(values)
            )
            return bool(result.rowcount == 1)

    def digest_stories(self, digest_id: int) -> list[int]:
        """The stories frozen into a digest: first deliveries, then stories sent as updates."""
        su, du = _table(t.StoryUpdate), _table(t.DigestUpdate)
        with reading(self.engine) as conn, Session(conn) as s:
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
        with reading(self.engine) as conn, Session(conn) as s:
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
        due_beyond: datetime | None = None,
    ) -> list[DigestRow]:
        """Pending digests, oldest first; with `due`, only those whose next attempt has come
        or, with `due_beyond`, lies after it (set by a clock that ran fast)."""
        query = select(t.Digest).where(t.Digest.status == "pending")
        if recipient is not None:
            query = query.where(t.Digest.recipient == recipient)
        if kind is not None:
            query = query.where(t.Digest.kind == kind)
        if due is not None:
            due_now = [col(t.Digest.next_attempt).is_(None), col(t.Digest.next_attempt) <= due]
            if due_beyond is not None:
                due_now.append(col(t.Digest.next_attempt) > due_beyond)
            query = query.where(sa.or_(*due_now))
        with reading(self.engine) as conn, Session(conn) as s:
            return [_digest_row(d) for d in s.exec(query.order_by(col(t.Digest.id)))]

    def last_digest_created(
        self, recipient: str, kind: str, *, not_after: datetime | None = None
    ) -> datetime | None:
        """When the newest digest of this kind was frozen for `recipient` (any status); with
        `not_after`, digests frozen later (by a clock that ran fast) are left out."""
        query = select(sa.func.max(t.Digest.created)).where(
            t.Digest.recipient == recipient, t.Digest.kind == kind
        )
        if not_after is not None:
            query = query.where(col(t.Digest.created) <= not_after)
        with reading(self.engine) as conn, Session(conn) as s:
            value = s.exec(query).one()
        if value is None:
            return None
        return _utc(value)

    def digests(self, *, status: str | None = None, limit: int = 100) -> list[DigestRow]:
        query = select(t.Digest).order_by(col(t.Digest.id).desc()).limit(limit)
        if status:
            query = query.where(t.Digest.status == status)
        with reading(self.engine) as conn, Session(conn) as s:
            return [_digest_row(d) for d in s.exec(query)]


class _StoryAcc:
    """What `stories_by_ids` gathers about one story from its items and matches."""

    def __init__(self) -> None:
        self.outlets: dict[str, None] = {}
        self.topics: dict[str, None] = {}
        self.rules: dict[str, None] = {}
        self.terms: dict[str, None] = {}
        self.titles: dict[int, str] = {}
        self.languages: dict[int, str] = {}  # item -> its feed's configured language
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
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)  # type: ignore[no-any-return]
