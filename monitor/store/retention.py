"""Retention: pruning old items while keeping tombstones (for twice the retention), and the
"seen before" test.

An item pruned by retention leaves a tombstone (feed, identity key, canonical URL, content
hash), so when it shows up in its feed again it is recognised and not stored or sent again.
The same fingerprint (canonical URL plus content hash, within one feed) also recognises an
item whose GUID the feed regenerates on every fetch.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from monitor.store import tables as t
from monitor.store.tables import CHUNK, chunks
from monitor.store.tables import table_of as _table

if TYPE_CHECKING:
    from monitor.store import NewItem


class RetentionMixin:
    engine: Engine

    def _insert(self, table: sa.Table) -> Any:  # provided by Store
        raise NotImplementedError

    def prune(self, before: datetime, now: datetime) -> int:
        """Delete items first seen before `before`, leaving tombstones; return how many.

        Tombstones go too once they are older than twice the retention (`now - before`):
        a feed that still lists an item so long after it was pruned is taken to publish it
        again, and without a limit the table grows for ever."""
        total = self._prune_items(before, now)
        if before < now:  # a retention of nothing or less (`before` ahead) keeps them all
            self._prune_tombstones(now - 2 * (now - before))
        return total

    def _prune_tombstones(self, before: datetime) -> None:
        """Delete the tombstones of items pruned before `before`, a chunk a transaction."""
        tombs = _table(t.ItemTombstone)
        while True:
            with self.engine.begin() as conn:
                # By id: tombstones are written in the order they are pruned, so the old
                # ones come first and each chunk is found without reading the rest.
                ids = list(
                    conn.execute(
                        sa.select(tombs.c.id)
                        .where(tombs.c.pruned < before)
                        .order_by(tombs.c.id)
                        .limit(CHUNK)
                    ).scalars()
                )
                if not ids:
                    return
                conn.execute(sa.delete(tombs).where(tombs.c.id.in_(ids)))

    def _prune_items(self, before: datetime, now: datetime) -> int:
        items, matches, tombs = _table(t.Item), _table(t.ItemMatch), _table(t.ItemTombstone)
        total = 0
        while True:
            with self.engine.begin() as conn:
                rows = conn.execute(
                    sa.select(
                        items.c.id,
                        items.c.feed_id,
                        items.c.key,
                        items.c.canonical_url,
                        items.c.content_hash,
                    )
                    .where(items.c.fetched < before)
                    .limit(CHUNK)  # the ids below are one IN list
                ).all()
                if not rows:
                    return total
                conn.execute(
                    self._insert(tombs)
                    .values(
                        [
                            {
                                "feed_id": r.feed_id,
                                "key": r.key,
                                "canonical_url": r.canonical_url,
                                "content_hash": r.content_hash,
                                "pruned": now,
                            }
                            for r in rows
                        ]
                    )
                    .on_conflict_do_nothing(index_elements=["feed_id", "key"])
                )
                ids = [r.id for r in rows]
                conn.execute(sa.delete(matches).where(matches.c.item_id.in_(ids)))
                keys = t.StoryKey.__table__  # type: ignore[attr-defined]
                conn.execute(sa.delete(keys).where(keys.c.item_id.in_(ids)))
                conn.execute(sa.delete(items).where(items.c.id.in_(ids)))
                total += len(rows)

    def _seen_before(self, conn: sa.Connection, new: Sequence[NewItem]) -> set[tuple[int, str]]:
        """(feed, key) of the items that a tombstone or a same-content item already covers."""
        seen: set[tuple[int, str]] = set()
        for part in chunks(new):
            feeds = list({n.item.feed_id for n in part})
            keys = [n.item.key for n in part]
            for f, k in conn.execute(_TOMBSTONED, {"feeds": feeds, "keys": keys}):
                seen.add((f, k))
            urls = list({n.canonical_url for n in part if n.canonical_url})
            if urls:
                prints: set[tuple[int, str | None, str]] = set()
                for query in _SAME_CONTENT:
                    prints.update(
                        (row[0], row[1], row[2])
                        for row in conn.execute(query, {"feeds": feeds, "urls": urls})
                    )
                for n in part:
                    it = n.item
                    if (it.feed_id, n.canonical_url, it.content_hash) in prints:
                        seen.add((it.feed_id, it.key))
        return seen


def _in(name: str) -> sa.BindParameter[Any]:
    return sa.bindparam(name, expanding=True)


# The "seen before" statements, built once: they run for every feed of every pass.
_TOMBS = _table(t.ItemTombstone)
_TOMBSTONED = sa.select(_TOMBS.c.feed_id, _TOMBS.c.key).where(
    _TOMBS.c.feed_id.in_(_in("feeds")), _TOMBS.c.key.in_(_in("keys"))
)
_ITEMS = _table(t.Item)
_SAME_CONTENT = (
    # Items by URL alone (the caller matches the feed): given the feed too, SQLite walked
    # every stored item of the feed for each chunk of URLs, instead of the URL index.
    sa.select(_ITEMS.c.feed_id, _ITEMS.c.canonical_url, _ITEMS.c.content_hash).where(
        _ITEMS.c.canonical_url.in_(_in("urls"))
    ),
    sa.select(_TOMBS.c.feed_id, _TOMBS.c.canonical_url, _TOMBS.c.content_hash).where(
        _TOMBS.c.feed_id.in_(_in("feeds")), _TOMBS.c.canonical_url.in_(_in("urls"))
    ),
)
