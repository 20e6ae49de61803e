"""Feed rows: registration from the config and the CLI, scheduling state, moves and health.

A mixin of `Store` (it uses the store's engine); the decisions it stores (next check, silent
flag, status) are made by the pure functions of `monitor.sources`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from monitor import sources
from monitor.errors import MonitorError
from monitor.models import FeedState
from monitor.settings import FeedConfig
from monitor.store import tables as t
from monitor.store.engine import reading
from monitor.store.tables import chunks
from monitor.store.tables import table_of as _table


def _fetched() -> sa.Update:
    """A successful fetch's UPDATE: the feed is healthy and released; a validator or body
    hash given as NULL keeps the stored one (a server may send one and not the other)."""
    feed = _table(t.Feed)

    def keep(name: str, column: sa.Column[Any]) -> Any:
        return sa.func.coalesce(sa.bindparam(name, type_=column.type), column)

    checked = sa.bindparam("checked", type_=feed.c.last_checked.type)
    return (
        sa.update(feed)
        .where(feed.c.id == sa.bindparam("feed"))
        .values(
            last_checked=checked,
            last_success=checked,
            next_check=sa.bindparam("next", type_=feed.c.next_check.type),
            lease_owner=None,  # the pass is done with this feed
            lease_until=None,
            error_streak=0,
            last_error=None,
            failing_since=None,
            etag=keep("new_etag", feed.c.etag),
            last_modified=keep("new_modified", feed.c.last_modified),
            body_hash=keep("new_hash", feed.c.body_hash),
        )
    )


_FETCHED = _fetched()


def _failed(feed_id: int, outcome: FetchOutcome) -> sa.Update:
    """A failed fetch's UPDATE: one more error, the first failure's time kept, released."""
    feed = _table(t.Feed)
    return (
        sa.update(feed)
        .where(feed.c.id == feed_id)
        .values(
            last_checked=outcome.checked,
            next_check=outcome.next_check,
            gone=sa.or_(feed.c.gone, sa.literal(outcome.gone)),
            lease_owner=None,
            lease_until=None,
            error_streak=feed.c.error_streak + 1,
            last_error=(outcome.error or "unknown error")[:2000],
            failing_since=sa.func.coalesce(
                feed.c.failing_since, sa.literal(outcome.checked, feed.c.failing_since.type)
            ),
        )
    )


class FeedNotFound(MonitorError):
    def __init__(self, ident: str) -> None:
        super().__init__(f"no feed named or at {ident!r} (see `monitor feeds list`)")


@dataclass(frozen=True, slots=True)
class FetchOutcome:
    """What a fetch did to a feed's scheduling state (written in one transaction)."""

    checked: datetime
    next_check: datetime
    ok: bool
    error: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    gone: bool = False


@dataclass(frozen=True, slots=True)
class FeedHealth:
    name: str
    url: str
    enabled: bool
    gone: bool
    error_streak: int
    last_error: str | None
    failing_since: datetime | None
    last_success: datetime | None
    next_check: datetime | None
    language: str = "en"
    origin: str = "config"
    moved_from: str | None = None
    moved_at: datetime | None = None
    items_7d: int = 0
    silent: bool = False

    @property
    def status(self) -> sources.Status:
        return sources.feed_status(
            enabled=self.enabled,
            gone=self.gone,
            error_streak=self.error_streak,
            failing_since=self.failing_since,
            last_success=self.last_success,
            silent=self.silent,
        )


class FeedsMixin:
    engine: Engine

    def _insert(self, table: sa.Table) -> Any:  # provided by Store
        raise NotImplementedError

    def sync_feeds(self, feeds: Sequence[FeedConfig]) -> None:
        """Make the configured feeds exist with their configured name, language and interval.

        A feed is found by the URL it was configured with, so a feed whose `url` followed a
        permanent redirect is still the same feed and is not added again.
        """
        # Every command syncs the configured feeds first: a first look in a read-only
        # transaction, so that when nothing changed (nearly always) a listing never waits
        # for a pass's write lock. Changes are worked out again under the write lock.
        with reading(self.engine) as conn:
            if not any(_feed_changes(conn, feeds)):
                return
        table = _table(t.Feed)
        with self.engine.begin() as conn:
            updates, new = _feed_changes(conn, feeds)
            for found, values in updates:
                conn.execute(sa.update(table).where(table.c.id == found).values(**values))
            for url, values in new.items():
                conn.execute(
                    self._insert(table)
                    .values(
                        url=url,
                        configured_url=url,
                        origin="config",
                        enabled=True,
                        gone=False,
                        removed=False,
                        error_streak=0,
                        **values,
                    )
                    .on_conflict_do_nothing(index_elements=["url"])
                )

    def due_feeds(
        self, now: datetime, *, names: Iterable[str] | None = None, ignore_schedule: bool = False
    ) -> list[FeedState]:
        """Enabled feeds whose next check has come (all of them with ignore_schedule); see
        `due` for one set by a clock that ran fast."""
        query = select(t.Feed).where(col(t.Feed.enabled), ~col(t.Feed.gone), ~col(t.Feed.removed))
        if not ignore_schedule:
            query = query.where(due(col(t.Feed.next_check), now))
        query = query.order_by(col(t.Feed.id))
        with reading(self.engine) as conn, Session(conn) as s:
            if names is None:
                return [feed_state(f) for f in s.exec(query)]
            found = [  # a statement per chunk of names, put back in order
                f
                for part in chunks(list(dict.fromkeys(names)))
                for f in s.exec(query.where(col(t.Feed.name).in_(part)))
            ]
            return [feed_state(f) for f in sorted(found, key=lambda f: f.id or 0)]

    def record_fetch(self, feed_id: int, outcome: FetchOutcome) -> None:
        """Save a fetch's effect on the feed's schedule and health, on success and failure alike."""
        self.record_fetches([(feed_id, outcome)])

    def record_fetches(self, outcomes: Sequence[tuple[int, FetchOutcome]]) -> None:
        """`record_fetch` for several feeds in one transaction (a warm pass's unchanged feeds:
        a transaction each cost a tenth of such a pass)."""
        # UPDATEs, not ORM loads and flushes: this runs for every feed of every pass.
        successes = [
            {
                "feed": feed_id,
                "checked": outcome.checked,
                "next": outcome.next_check,
                "new_etag": outcome.etag,
                "new_modified": outcome.last_modified or None,
                "new_hash": outcome.body_hash or None,
            }
            for feed_id, outcome in outcomes
            if outcome.ok
        ]
        with self.engine.begin() as conn:
            if successes:  # the common case, with a statement built once
                conn.execute(_FETCHED, successes)
            for feed_id, outcome in outcomes:
                if not outcome.ok:
                    conn.execute(_failed(feed_id, outcome))

    def move_feed(self, feed_id: int, new_url: str, now: datetime) -> str:
        """Follow a permanent redirect: the feed's URL becomes `new_url`; return what happened.

        When another feed already has that URL, this one is disabled as a duplicate instead
        (the unique index on URL would refuse the move anyway).
        """
        table = _table(t.Feed)
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(table).where(table.c.id == feed_id)).mappings().first()
            if row is None or row["url"] == new_url:
                return ""
            other = conn.execute(
                sa.select(table.c.name).where(table.c.url == new_url, table.c.id != feed_id)
            ).scalar()
            if other is None:
                conn.execute(
                    sa.update(table)
                    .where(table.c.id == feed_id)
                    .values(url=new_url, moved_from=row["url"], moved_at=now)
                )
                return f"feed {row['name']!r} moved permanently from {row['url']} to {new_url}"
            message = (
                f"feed {row['name']!r} moved permanently to {new_url}, which is already polled "
                f"as {other!r}: disabled as a duplicate"
            )
            conn.execute(
                sa.update(table)
                .where(table.c.id == feed_id)
                .values(enabled=False, last_error=message, moved_at=now)
            )
            return message

    # -- management from the CLI -----------------------------------------------------------

    def add_feed(
        self, url: str, name: str, *, language: str = "en", origin: str = "cli"
    ) -> FeedState:
        """Register a feed; a removed feed with the same URL comes back. Raises MonitorError."""
        table = _table(t.Feed)
        with self.engine.begin() as conn:
            clash = conn.execute(
                sa.select(table.c.name, table.c.url).where(
                    ~table.c.removed, sa.or_(table.c.url == url, table.c.name == name)
                )
            ).first()
            if clash is not None:
                raise MonitorError(f"a feed already exists: {clash.name!r} at {clash.url}")
            old = conn.execute(sa.select(table.c.id).where(table.c.url == url)).scalar()
            values = {
                "name": name,
                "language": language,
                "origin": origin,
                "enabled": True,
                "gone": False,
                "removed": False,
                "next_check": None,
                "configured_url": url,
            }
            if old is not None:
                conn.execute(sa.update(table).where(table.c.id == old).values(**values))
            else:
                conn.execute(sa.insert(table).values(url=url, error_streak=0, **values))
        return self.feed_state(url)

    def feed_state(self, ident: str) -> FeedState:
        with reading(self.engine) as conn, Session(conn) as s:
            return feed_state(self._find(s, ident))

    def remove_feed(self, ident: str) -> str:
        """Stop polling a feed added from the CLI or OPML and hide it; its items stay."""
        with Session(self.engine) as s:
            feed = self._find(s, ident)
            if feed.origin == "config":
                raise MonitorError(
                    f"feed {feed.name!r} is defined in the config file: remove it there, "
                    "or use `monitor feeds disable`"
                )
            feed.removed, feed.enabled = True, False
            s.add(feed)
            s.commit()
            return feed.name

    def set_enabled(self, ident: str, enabled: bool) -> str:
        """Disable a feed, or enable it again (which also clears a 410 'gone' mark)."""
        with Session(self.engine) as s:
            feed = self._find(s, ident)
            feed.enabled = enabled
            if enabled:
                feed.gone, feed.next_check = False, None
            s.add(feed)
            s.commit()
            return feed.name

    def _find(self, s: Session, ident: str) -> t.Feed:
        for column in (t.Feed.name, t.Feed.url):
            feed = s.exec(select(t.Feed).where(column == ident, ~col(t.Feed.removed))).first()
            if feed is not None:
                return feed
        raise FeedNotFound(ident)

    def feed_health(self, now: datetime | None = None) -> list[FeedHealth]:
        """Every feed that is not removed, with its recent volume and the silent flag."""
        now = now or datetime.now(UTC)
        items = _table(t.Item)
        when = sa.func.coalesce(items.c.published, items.c.fetched)
        since = now - timedelta(days=40)
        days: dict[int, set[date]] = defaultdict(set)
        last: dict[int, datetime] = {}
        week: dict[int, int] = defaultdict(int)
        with reading(self.engine) as conn:
            for feed_id, newest in conn.execute(
                sa.select(items.c.feed_id, sa.func.max(when)).group_by(items.c.feed_id)
            ):
                last[feed_id] = _aware(newest)
            for feed_id, published, fetched in conn.execute(
                sa.select(items.c.feed_id, items.c.published, items.c.fetched).where(
                    sa.or_(items.c.published >= since, items.c.fetched >= since)
                )
            ):
                moment = published or fetched
                days[feed_id].add(moment.date())
                if moment >= now - timedelta(days=7):
                    week[feed_id] += 1
        with reading(self.engine) as conn, Session(conn) as s:
            feeds = s.exec(
                select(t.Feed).where(~col(t.Feed.removed)).order_by(col(t.Feed.name))
            ).all()
        out = []
        for f in feeds:
            assert f.id is not None
            silent = f.last_success is not None and sources.is_silent(
                days[f.id], last.get(f.id), now
            )
            out.append(
                FeedHealth(
                    f.name,
                    f.url,
                    f.enabled,
                    f.gone,
                    f.error_streak,
                    f.last_error,
                    f.failing_since,
                    f.last_success,
                    f.next_check,
                    language=f.language,
                    origin=f.origin,
                    moved_from=f.moved_from,
                    moved_at=f.moved_at,
                    items_7d=week[f.id],
                    silent=silent,
                )
            )
        return out


_SYNCED = ("name", "language", "note", "interval_minutes")


def _feed_changes(
    conn: sa.Connection, feeds: Sequence[FeedConfig]
) -> tuple[list[tuple[int, dict[str, Any]]], dict[str, dict[str, Any]]]:
    """What `sync_feeds` writes: (feed id, configured values) of the feeds that changed,
    and the values of new feeds by URL (a repeated URL updates the first)."""
    table = _table(t.Feed)
    # One read of every feed instead of a lookup and an update per configured feed
    # (a second of every start with a few hundred feeds); only changes are written.
    current: dict[int, dict[str, Any]] = {}
    by_url: dict[str, int] = {}
    for row in conn.execute(
        sa.select(
            table.c.id, table.c.url, table.c.configured_url, *map(table.c.get, _SYNCED)
        ).order_by(table.c.id)
    ).mappings():
        current[row["id"]] = {k: row[k] for k in _SYNCED}
        for url in (row["configured_url"], row["url"]):
            if url is not None:
                by_url.setdefault(url, row["id"])  # the lowest id holding the URL
    updates: list[tuple[int, dict[str, Any]]] = []
    new: dict[str, dict[str, Any]] = {}
    for f in feeds:
        values = {
            "name": f.name,
            "language": f.language,
            "note": f.note,
            "interval_minutes": f.interval_minutes,
        }
        found = by_url.get(f.url)
        if found is None:
            new.setdefault(f.url, {}).update(values)
        elif current[found] != values:
            updates.append((found, values))
            current[found] = values
    return updates, new


def due(next_check: Any, now: datetime) -> sa.ColumnElement[bool]:
    """In SQL: a feed's next check (the column `next_check`) has come at `now`, was never
    set, or lies further ahead than any wait the scheduler sets (a clock that ran fast)."""
    return sa.or_(
        next_check.is_(None),
        next_check <= now,
        next_check > sources.latest_next_check(now),
    )


def _aware(value: datetime) -> datetime:
    if isinstance(value, str):  # SQLite returns max() of a coalesce as text
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def feed_state(f: Any) -> FeedState:
    """The scheduling state of a feed row (an ORM Feed or a Core row of the feed table)."""
    assert f.id is not None
    return FeedState(
        id=f.id,
        name=f.name,
        url=f.url,
        language=f.language,
        etag=f.etag,
        last_modified=f.last_modified,
        body_hash=f.body_hash,
        error_streak=f.error_streak,
        interval_minutes=f.interval_minutes,
    )
