"""Stories in the database: the story index behind the clusterer, story listings, updates.

`DbStoryIndex` is the `monitor.cluster.StoryIndex` of one transaction: rows of
`story_key` (key, story, item, published) looked up by key and time, with the neighbours'
fingerprints recomputed from their items' title and summary (and cached, since items never
change). `StoriesMixin` assigns a stored item to a story through the same `Clusterer` the
`stories eval` command uses, so the pipeline and the evaluation make the same decisions.
"""

from __future__ import annotations

import functools
import sys
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from operator import itemgetter
from typing import TYPE_CHECKING, Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from monitor.cluster import (
    Clusterer,
    ClusterSettings,
    Fingerprint,
    Found,
    Neighbour,
    fingerprint,
)
from monitor.cluster import index_keys as cluster_index_keys
from monitor.cluster.index import MAX_POSTINGS, tie
from monitor.store import tables as t
from monitor.store.engine import reading
from monitor.store.recent_keys import RecentKeys, Row
from monitor.store.tables import chunks
from monitor.store.tables import table_of as _table

if TYPE_CHECKING:
    from monitor.store import NewItem

__all__ = ["DbStoryIndex", "StoriesMixin", "StoryItemRow", "StoryRow"]

# Items whose facts are kept: about a window's worth of matching reports for a busy setup,
# at some 2.5 KB each; a miss costs one read and a fingerprint (half a millisecond).
_CACHE_SIZE = 20_000
_LOOKUP_CHUNK = 100  # keys per candidate query
FIRST_REPORT = "first report"
STORY_LOCK = 0x53544F52  # "STOR": the advisory lock around story assignment (PostgreSQL)


class NeighbourCache:
    """Stored items as the story index hands them to `decide`, by item id, the first stored
    dropped first. An item, its story and its fingerprint never change once stored; a
    report's neighbours are those of the last few days, so the oldest entries are the ones
    no longer asked for (keeping the most recently used instead cost a reordering for every
    one of the hundred-odd neighbours of every report).

    Each entry is kept with its sort key (publication time, id) and without what only
    looking an item up needs (MinHash signature, index keys): a neighbour is
    compared, never looked up, and those are half its size. Cleared when a transaction
    that added to it rolls back: SQLite may hand a rolled-back item's id to the next item.
    """

    def __init__(self, size: int = _CACHE_SIZE) -> None:
        self.size = size
        self._data: OrderedDict[int, tuple[Neighbour, tuple[datetime, int]]] = OrderedDict()

    def put(
        self,
        item_id: int,
        story_id: int,
        fp: Fingerprint,
        canonical_url: str,
        published: datetime,
    ) -> tuple[Neighbour, tuple[datetime, int]]:
        slim = _slim(fp)
        neighbour = Neighbour(story_id, canonical_url, slim, published, str(item_id))
        entry = (neighbour, (published, item_id))
        self._data[item_id] = entry
        if len(self._data) > self.size:
            self._data.popitem(last=False)
        return entry

    def get(self, item_id: int) -> tuple[Neighbour, tuple[datetime, int]] | None:
        return self._data.get(item_id)

    def drop(self, item_id: int) -> None:
        """Forget an item (split into a story of its own: its entry names the old story)."""
        self._data.pop(item_id, None)

    def clear(self) -> None:
        self._data.clear()


def _slim(fp: Fingerprint) -> Fingerprint:
    """A neighbour's fingerprint as the cache keeps it: without what only looking an item up
    needs (MinHash signature, index keys), and with its words interned, so that
    the thousands of reports in the cache share one copy of each word."""
    title = tuple(map(sys.intern, fp.title_tokens))
    lead = tuple(map(sys.intern, fp.lead_tokens))
    # Most headlines use no word twice: then their distinct words are the tokens themselves.
    title_words = (
        title if fp.title_words == fp.title_tokens else tuple(map(sys.intern, fp.title_words))
    )
    return replace(
        fp,
        title_tokens=title,
        lead_tokens=lead,
        title_words=title_words,
        text_words=tuple(map(sys.intern, fp.text_words)),
        places=frozenset(map(sys.intern, fp.places)),
        title_places=frozenset(map(sys.intern, fp.title_places)),
        signature=(),
        band_keys=(),
    )


class DbStoryIndex:
    """The story index on one open connection (inside the caller's transaction); rows this
    pass wrote come from `recent` when it is given and has begun."""

    def __init__(
        self, conn: sa.Connection, cache: NeighbourCache, recent: RecentKeys | None = None
    ) -> None:
        self.conn = conn
        self.cache = cache
        self.recent = recent if recent is not None and recent.base is not None else None
        self._unwritten: list[tuple[str, int, int, Any]] = []  # story_key rows `flush` writes
        self._driver = _driver(conn.dialect)

    def candidates(self, band_keys: Sequence[str], since: datetime) -> Found:
        if not band_keys:
            return Found([], {})
        keys = list(dict.fromkeys(band_keys))
        since_db = key_time(since)
        found = self._stored(keys, since_db)
        recent = self.recent
        hits: dict[int, int] = {}  # item id → story id
        ties: dict[int, int] = {}  # item id → how tied (cluster.index.tie)
        for key in keys:
            rows = found.get(key, [])
            if recent is not None:
                mine = recent.rows(key, since_db)
                if mine:  # the newest of both, as one lookup over every row would give
                    rows = sorted(rows + mine)[-MAX_POSTINGS:] if rows else mine
            weight = tie(key)
            for _, item_id, story_id in rows:
                hits[item_id] = story_id
                ties[item_id] = ties.get(item_id, 0) + weight
        entries = []
        missing = []
        for item_id in hits:
            entry = self.cache.get(item_id)
            if entry is None:
                missing.append(item_id)
            elif entry[0].story_id != hits[item_id]:
                # Split out of its story by an analyst, in another process: the index row
                # has the story the report is in now, the cached entry the old one.
                entries.append((replace(entry[0], story_id=hits[item_id]), entry[1]))
            else:
                entries.append(entry)
        if missing:  # reports this process has not seen: read and fingerprint them once
            for part in chunks(missing):  # a freak report's keys may bring thousands
                for i, canonical, title, summary, published in self.conn.execute(
                    _ITEM_FACTS, {"ids": part}
                ):
                    fp = fingerprint(title, summary or "")
                    entries.append(self.cache.put(i, hits[i], fp, canonical or "", published))
            # an item missing still went meanwhile (retention): it is simply not a neighbour
        entries.sort(key=itemgetter(1))
        return Found([n for n, _ in entries], {str(i): w for i, w in ties.items()})

    def _stored(self, keys: list[str], since: int) -> dict[str, list[Row]]:
        """The database's rows for these keys published at or after `since` (`key_time`), up
        to the recent rows' base, if any."""
        found: dict[str, list[Row]] = {}
        upto = _NO_BOUND if self.recent is None else self.recent.base
        if upto == 0:
            return found  # the index was empty when the pass began: all of it is recent
        # A report has about 50 keys; chunks keep a freak one (a statement naming hundreds
        # of speakers) under SQLite's limit of 500 arms in one compound SELECT.
        for chunk in chunks(keys, _LOOKUP_CHUNK):
            params: dict[str, Any] = {f"k{i}": key for i, key in enumerate(chunk)}
            params["since"] = since
            params["upto"] = upto
            for key, published, item_id, story_id in self.conn.execute(_lookup(len(chunk)), params):
                found.setdefault(key, []).append((published, item_id, story_id))
        return found

    def add(
        self,
        story_id: int,
        item_key: str,
        canonical_url: str,
        fingerprint: Fingerprint,
        published: datetime,
    ) -> None:
        item_id = int(item_key)
        # Plain rows of values already in the database's form: about fifty rows a report.
        when = key_time(published)
        keys = cluster_index_keys(canonical_url, fingerprint)
        rows = [(k, story_id, item_id, when) for k in keys]
        if self.recent is None:
            self.conn.exec_driver_sql(self._driver.insert_key, rows)
        else:  # looked up from memory meanwhile: written with the feed's others (`flush`)
            self._unwritten.extend(rows)
            row = (when, item_id, story_id)
            for key in keys:
                self.recent.post(key, row)
        self.cache.put(item_id, story_id, fingerprint, canonical_url, published)

    def flush(self) -> None:
        """Write the rows `add` kept back; before the transaction ends."""
        if self._unwritten:
            self.conn.exec_driver_sql(self._driver.insert_key, sorted(self._unwritten))
            self._unwritten = []


_NO_BOUND = 2**62  # an id bound no row reaches


class _Driver(NamedTuple):
    """The statements run for every matching report, in the driver's own terms, and the
    database's form of a time (SQLite: SQLAlchemy's text), as the ORM would write it.

    Their rows go to the driver as they are: SQLAlchemy's handling of a compiled
    statement's parameters took a third of the time some fifty story_key rows a report
    took to write, and as long as a new story's one-row INSERT."""

    time: Callable[[datetime | None], Any]
    insert_key: str  # (key, story_id, item_id, published)
    new_story: str  # (title, url, first_seen, published, severity) → id


_DRIVERS: dict[tuple[str, str], _Driver] = {}


def _driver(dialect: sa.Dialect) -> _Driver:
    """The `_Driver` of this dialect (made once per database kind and driver)."""
    known = _DRIVERS.get((dialect.name, dialect.driver))
    if known is not None:
        return known
    bind = t.UTCDateTime().dialect_impl(dialect).bind_processor(dialect)
    mark = {"qmark": "?", "format": "%s", "pyformat": "%s"}[dialect.paramstyle]
    made = _DRIVERS[dialect.name, dialect.driver] = _Driver(
        time=bind or (lambda value: value),
        insert_key="INSERT INTO story_key (key, story_id, item_id, published)"
        f" VALUES ({', '.join([mark] * 4)})",
        new_story="INSERT INTO story (title, url, first_seen, published, severity)"
        f" VALUES ({', '.join([mark] * 5)}) RETURNING id",
    )
    return made


@functools.cache
def _lookup(keys: int) -> sa.TextClause:
    """(key, published, item id, story id) of the newest MAX_POSTINGS rows of each of `keys`
    keys with an id up to `upto`, as the in-memory index caps them; `published` as the
    database keeps it (compared with `RecentKeys` rows, never converted).

    Each arm is a short backward walk of the (key, published, item_id) index, so a key that
    thousands of reports share (boilerplate, a burst on one story) costs no more than a rare
    one; the UNION ALL makes it one round trip. Plain SQL built once per key count: it runs
    for every new matching item, and building the same statement from SQLAlchemy constructs
    each time cost far more than running it. What an item's row says besides its story
    never changes, so that comes from the cache.
    """
    arms = " UNION ALL ".join(
        f"SELECT * FROM (SELECT key, published, item_id, story_id FROM story_key"
        f" WHERE key = :k{i} AND published >= :since AND id <= :upto"
        f" ORDER BY published DESC, item_id DESC LIMIT {MAX_POSTINGS}) AS a{i}"
        for i in range(keys)
    )
    return sa.text(arms)


def key_time(when: datetime) -> int:
    """A time as story_key keeps it: whole seconds since the epoch. Lookups compare in this
    form too, so a row a fraction of a second before `since` may come back: `decide` looks
    at the exact gap. A naive time is taken as UTC, as the clusterer takes it."""
    return int((when if when.tzinfo is not None else when.replace(tzinfo=UTC)).timestamp())


# The unchanging facts of items not in the cache; `published` as the story index placed the
# item (a report without a publication time is placed at the time it was fetched).
_ITEM_FACTS = (
    sa.text(
        "SELECT i.id, i.canonical_url, i.title, i.summary,"
        " COALESCE(i.published, i.fetched) AS published"
        " FROM item AS i WHERE i.id IN :ids"
    )
    .bindparams(sa.bindparam("ids", expanding=True))
    .columns(
        sa.column("id", sa.Integer),
        sa.column("canonical_url", sa.String),
        sa.column("title", sa.String),
        sa.column("summary", sa.String),
        sa.column("published", t.UTCDateTime()),
    )
)


# Statements run for every matching report, built once (building them cost more than running).
_STORIES, _ITEMS = _table(t.Story), _table(t.Item)
_ALERT_STORY = (
    sa.update(_STORIES).where(_STORIES.c.id == sa.bindparam("story")).values(severity="alert")
)
_JOIN_STORIES = (  # the rows `_assign_story` returns, a feed's at once
    sa.update(_ITEMS)
    .where(_ITEMS.c.id == sa.bindparam("item"))
    .values(story_id=sa.bindparam("story"), story_reason=sa.bindparam("reason"))
)


@dataclass(frozen=True, slots=True)
class StoryRow:
    """A story as `monitor stories list` shows it."""

    id: int
    first_seen: datetime
    title: str
    outlets: tuple[str, ...]
    items: int
    topics: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class StoryItemRow:
    """One report of a story, and why it joined."""

    item_id: int
    outlet: str
    title: str
    link: str | None
    published: datetime | None
    fetched: datetime
    reason: str


class StoriesMixin:
    engine: Engine
    cluster_settings: ClusterSettings
    _neighbours: NeighbourCache
    _recent: RecentKeys

    def _insert(self, table: sa.Table) -> Any:  # provided by Store
        raise NotImplementedError

    def _clusterer(
        self, conn: sa.Connection, index: DbStoryIndex, current: list[NewItem]
    ) -> Clusterer:
        """A clusterer on this transaction; new stories are created from `current[0]`."""
        return Clusterer(
            index, self.cluster_settings, allocate=lambda: self._new_story(conn, current[0])
        )

    def _new_story(self, conn: sa.Connection, n: NewItem) -> int:
        it = n.item
        severity = "alert" if any(m.severity == "alert" for m in n.matches) else "digest"
        sql = _driver(conn.dialect)
        values = (it.title, it.url, sql.time(it.fetched), sql.time(it.published), severity)
        # Straight on the driver's cursor, in the same transaction: most reports of a first
        # pass start a story, and SQLAlchemy's result handling cost more than the INSERT.
        raw = conn.connection.dbapi_connection
        assert raw is not None  # a connection inside a transaction has its driver's
        cursor = raw.cursor()
        try:
            cursor.execute(sql.new_story, values)
            row = cursor.fetchone()
            assert row is not None  # INSERT ... RETURNING returns the row it inserted
            return int(row[0])
        finally:
            cursor.close()

    def _assign_story(
        self, conn: sa.Connection, clusterer: Clusterer, current: list[NewItem], item_id: int
    ) -> dict[str, Any]:
        """Place a stored, matching item into a story (joining one or starting one); the
        item's story, as `_join_stories` writes it (for all of a feed's items at once)."""
        n = current[0]
        it = n.item
        decision = clusterer.assign(
            str(item_id),
            it.url,
            it.title,
            it.summary,
            it.published or it.fetched,
            n.fingerprint,
            n.canonical_url or "",
        )
        assert decision.story_id is not None
        if not decision.new and any(m.severity == "alert" for m in n.matches):
            conn.execute(_ALERT_STORY, {"story": decision.story_id})
        reason = FIRST_REPORT if decision.new else decision.reason
        if decision.update:
            conn.execute(
                self._insert(_table(t.StoryUpdate))
                .values(
                    story_id=decision.story_id,
                    item_id=item_id,
                    reason=decision.update[:500],
                    created=it.fetched,
                )
                .on_conflict_do_nothing()
            )
        return {"item": item_id, "story": decision.story_id, "reason": reason[:500]}

    def _join_stories(self, conn: sa.Connection, joins: list[dict[str, Any]]) -> None:
        """Record the stories `_assign_story` placed items in, one statement for them all."""
        if joins:
            conn.execute(_JOIN_STORIES, joins)

    # -- listing -------------------------------------------------------------------------

    def story_rows(self, since: datetime | None = None, limit: int = 200) -> list[StoryRow]:
        """Stories first seen since `since`, newest first, with outlets and topics."""
        stories = _table(t.Story)
        query = sa.select(stories.c.id, stories.c.first_seen, stories.c.title)
        if since is not None:
            query = query.where(stories.c.first_seen >= since)
        return self._story_rows(
            query.order_by(stories.c.first_seen.desc(), stories.c.id.desc()).limit(limit)
        )

    def story_rows_by_id(self, story_ids: Sequence[int]) -> list[StoryRow]:
        """These stories, with outlets and topics (unknown ids skipped)."""
        stories = _table(t.Story)
        return [
            row
            for part in chunks(story_ids)
            for row in self._story_rows(
                sa.select(stories.c.id, stories.c.first_seen, stories.c.title).where(
                    stories.c.id.in_(part)
                )
            )
        ]

    def _story_rows(self, query: sa.Select[Any]) -> list[StoryRow]:
        items, feeds, matches = (_table(x) for x in (t.Item, t.Feed, t.ItemMatch))
        with reading(self.engine) as conn:
            heads = conn.execute(query).all()
            ids = [r.id for r in heads]
            outlets: dict[int, dict[str, None]] = {i: {} for i in ids}
            counts: dict[int, set[int]] = {i: set() for i in ids}
            topics: dict[int, dict[str, None]] = {i: {} for i in ids}
            for part in chunks(ids):
                for sid, item_id, outlet, topic in conn.execute(
                    sa.select(items.c.story_id, items.c.id, feeds.c.name, matches.c.topic)
                    .join(feeds, feeds.c.id == items.c.feed_id)
                    .join(matches, matches.c.item_id == items.c.id, isouter=True)
                    .where(items.c.story_id.in_(part))
                    .order_by(items.c.id)
                ):
                    outlets[sid][outlet] = None
                    counts[sid].add(item_id)
                    if topic:
                        topics[sid][topic] = None
        return [
            StoryRow(
                r.id,
                r.first_seen,
                r.title,
                tuple(outlets[r.id]),
                len(counts[r.id]),
                tuple(topics[r.id]),
            )
            for r in heads
        ]

    def story_items(self, story_id: int) -> list[StoryItemRow]:
        """The reports of a story in the order they were stored, with their join reasons."""
        items, feeds = _table(t.Item), _table(t.Feed)
        with reading(self.engine) as conn:
            rows = conn.execute(
                sa.select(
                    items.c.id,
                    feeds.c.name,
                    items.c.title,
                    items.c.url,
                    items.c.published,
                    items.c.fetched,
                    items.c.story_reason,
                )
                .join(feeds, feeds.c.id == items.c.feed_id)
                .where(items.c.story_id == story_id)
                .order_by(items.c.id)
            ).all()
        return [
            StoryItemRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6] or FIRST_REPORT) for r in rows
        ]

    def story_updates(self, story_id: int) -> list[tuple[datetime, str]]:
        su = _table(t.StoryUpdate)
        with reading(self.engine) as conn:
            return [
                (r.created, r.reason)
                for r in conn.execute(
                    sa.select(su.c.created, su.c.reason)
                    .where(su.c.story_id == story_id)
                    .order_by(su.c.id)
                )
            ]
