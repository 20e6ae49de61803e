"""The story index rows written since a pass began, held in memory for that pass.

A large pass (a first one over hundreds of feeds, or one after a long pause) looks up
mostly reports it stored itself a moment earlier; asking the database for each of their
fifty-odd keys was the largest single cost of such a pass. `RecentKeys` keeps every
`story_key` row with an id above `base` (the table's highest id when the pass first placed
a report), so the database is asked only about rows up to `base`, and not at all when
there were none. Rows above `base` are this process's, posted as it writes them, and other
writers', read by id at the start of each story transaction (`sync`) while the story lock
is held, so none is missed. Rows are kept as the database keeps them (a publication time
in the database's own form), newest `MAX_POSTINGS` per key, as a lookup reads them.

It lives for one pass (`Store.story_pass`): retention or another process may delete rows
later on, and a pass is short. A rolled-back transaction drops it all (`reset`); the next
one starts again from the table's highest id.
"""

from __future__ import annotations

import bisect
from typing import Any

import sqlalchemy as sa

from monitor.cluster.index import MAX_POSTINGS

__all__ = ["RecentKeys", "Row"]

# (publication time as the database keeps it, item id, story id): tuples sort newest last.
Row = tuple[Any, int, int]

_HIGHEST = sa.text("SELECT COALESCE(MAX(id), 0) FROM story_key")
_AFTER = sa.text(
    "SELECT id, key, published, item_id, story_id FROM story_key WHERE id > :after ORDER BY id"
)


class RecentKeys:
    """story_key rows above `base`, by key, newest last; see the module docstring."""

    def __init__(self) -> None:
        self.active = False
        self.reset()

    def reset(self) -> None:
        self.base: int | None = None  # None: not begun (inactive, or after a rollback)
        self._synced = 0
        self._postings: dict[str, Row | list[Row]] = {}

    def sync(self, conn: sa.Connection) -> None:
        """Catch up with rows other writers added; call with the story lock held."""
        if not self.active:
            return
        if self.base is None:
            self.base = self._synced = int(conn.execute(_HIGHEST).scalar_one())
            return
        for row_id, key, published, item_id, story_id in conn.execute(
            _AFTER, {"after": self._synced}
        ):
            self.post(key, (published, item_id, story_id))
            self._synced = row_id

    def settle(self, conn: sa.Connection) -> None:
        """After this process wrote its rows (already posted), still under the lock: every
        row so far is known here, ours included."""
        if self.base is not None:
            self._synced = int(conn.execute(_HIGHEST).scalar_one())

    def post(self, key: str, row: Row) -> None:
        # Most keys (word pairs, bands) belong to one report only: a key's single row is kept
        # as it is, a list only from the second on, saving a list object for each of them.
        posting = self._postings.get(key)
        if posting is None:
            self._postings[key] = row
        elif isinstance(posting, tuple):
            self._postings[key] = sorted((posting, row))
        else:
            bisect.insort(posting, row)
            if len(posting) > MAX_POSTINGS:
                del posting[0]  # never among a key's newest again

    def rows(self, key: str, since: Any) -> list[Row]:
        """The key's rows published at or after `since` (in the database's form), oldest
        first."""
        posting = self._postings.get(key)
        if posting is None:
            return []
        if isinstance(posting, tuple):
            return [posting] if posting[0] >= since else []
        return posting[bisect.bisect_left(posting, (since,)) :]  # (since,) sorts first

    def longest(self) -> int:
        """Rows of the key with the most (for tests: the cap is MAX_POSTINGS)."""
        return max(
            (1 if isinstance(p, tuple) else len(p) for p in self._postings.values()), default=0
        )
