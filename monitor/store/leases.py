"""Sharing work between daemons: feed leases, digest claims and advisory locks.

On PostgreSQL any number of daemons share one database. A daemon claims a batch of due feeds
with `SELECT … FOR UPDATE SKIP LOCKED`, writes its id and a lease expiry, commits, fetches
outside any transaction, and releases each lease when it records the result. A daemon that
dies leaves leases that expire and are taken over. A digest copy is claimed the same way
before it is sent. On SQLite there is one daemon (a file lock sees to it) and these
statements are serialised by BEGIN IMMEDIATE; the same code runs.
"""

from __future__ import annotations

import contextlib
import zlib
from collections.abc import Collection, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from monitor.models import FeedState
from monitor.schedule import CLOCK_SLACK
from monitor.store import tables as t
from monitor.store.engine import reading
from monitor.store.feeds import due, feed_state
from monitor.store.tables import chunks
from monitor.store.tables import table_of as _table

_EARLIEST = datetime.min.replace(tzinfo=UTC)


def _claim_order(row: Any) -> tuple[bool, datetime, int]:
    """The ORDER BY of a claim, in Python: never checked first, then by next check, id."""
    return (row.next_check is not None, row.next_check or _EARLIEST, row.id)


class LeasesMixin:
    engine: Engine

    def claim_feeds(
        self,
        owner: str,
        now: datetime,
        lease: timedelta,
        *,
        names: Iterable[str] | None = None,
        ignore_schedule: bool = False,
        limit: int | None = None,
        exclude: Collection[int] = (),
        claimed_at: datetime | None = None,
    ) -> list[FeedState]:
        """Lease the due feeds no other live daemon holds; return them, most overdue first.

        `exclude` (the feeds a pass took already) is left out in Python, not in SQL: over a
        pass of thousands of feeds a NOT IN list would outgrow the bind parameters a
        statement may have. Few of them are still due (a recorded feed's next check lies
        ahead), so the query asks for that many more rows and rarely gets them.

        What is due is judged at `now` (the pass's time, from which it schedules); leases
        are judged and given from `claimed_at`, the present (default `now`): a pass that
        claims a batch long after it began gives it a lease that has not expired yet.
        """
        f = _table(t.Feed)
        at = now if claimed_at is None else claimed_at
        query = sa.select(f).where(
            f.c.enabled,
            ~f.c.gone,
            ~f.c.removed,
            sa.or_(f.c.lease_until.is_(None), f.c.lease_until < at, f.c.lease_owner == owner),
        )
        if not ignore_schedule:
            query = query.where(due(f.c.next_check, now))
        skip = set(exclude)
        query = query.order_by(f.c.next_check.is_not(None), f.c.next_check, f.c.id).limit(
            None if limit is None else limit + len(skip)
        )
        if self.engine.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True, of=f)
        with self.engine.begin() as conn:
            if names is None:
                found = list(conn.execute(query))
            else:  # a statement per chunk of names, put back in the order of the claim
                found = sorted(
                    (
                        row
                        for part in chunks(list(dict.fromkeys(names)))
                        for row in conn.execute(query.where(f.c.name.in_(part)))
                    ),
                    key=_claim_order,
                )
            rows = [r for r in found if r.id not in skip][:limit]
            for part in chunks([r.id for r in rows]):
                conn.execute(
                    sa.update(f)
                    .where(f.c.id.in_(part))
                    .values(lease_owner=owner, lease_until=at + lease)
                )
        return [feed_state(r) for r in rows]

    def release_feeds(self, owner: str) -> None:
        """Give up every lease `owner` still holds (feeds it did not finish stay due)."""
        f = _table(t.Feed)
        with self.engine.begin() as conn:
            conn.execute(
                sa.update(f)
                .where(f.c.lease_owner == owner)
                .values(lease_owner=None, lease_until=None)
            )

    def lease_owners(self) -> list[str]:
        f = _table(t.Feed)
        with reading(self.engine) as conn:
            return [
                str(o)
                for o in conn.execute(
                    sa.select(f.c.lease_owner).where(f.c.lease_owner.is_not(None)).distinct()
                ).scalars()
            ]

    def live_daemons(self, now: datetime, within: timedelta) -> int:
        """Daemons whose heartbeat is recent and who have not said they stopped."""
        b = _table(t.DaemonBeat)
        with reading(self.engine) as conn:
            return int(
                conn.execute(
                    sa.select(sa.func.count()).where(
                        b.c.stopped.is_(None),
                        b.c.last_tick.is_not(None),
                        b.c.last_tick >= now - within,
                    )
                ).scalar_one()
            )

    def claim_digest(self, digest_id: int, token: str, now: datetime, lease: timedelta) -> bool:
        """Claim a pending copy for one delivery attempt; False while anyone holds a live claim.

        `token` names this attempt, not just the process: a live claim is never re-taken, not
        even by the thread that holds it, so two jobs of one daemon cannot both send a copy.
        """
        d = _table(t.Digest)
        with self.engine.begin() as conn:
            result = conn.execute(
                sa.update(d)
                .where(
                    d.c.id == digest_id,
                    d.c.status == "pending",
                    sa.or_(
                        d.c.claimed_until.is_(None),
                        d.c.claimed_until < now,
                        # Further ahead than a lease: made by a clock that ran fast.
                        d.c.claimed_until > now + lease + CLOCK_SLACK,
                    ),
                )
                .values(claimed_by=token, claimed_until=now + lease)
            )
            return bool(result.rowcount == 1)

    def digest_claimer(self, digest_id: int) -> str | None:
        """Who holds the claim on a copy (a claim token), if anyone."""
        d = _table(t.Digest)
        with self.engine.connect() as conn:
            holder = conn.execute(sa.select(d.c.claimed_by).where(d.c.id == digest_id)).scalar()
        return None if holder is None else str(holder)

    def release_digest(self, digest_id: int, token: str) -> bool:
        """Drop the claim `token` holds on a copy; False when the claim is no longer theirs
        (so two processes that both find a dead claimer cannot both take the copy over)."""
        d = _table(t.Digest)
        with self.engine.begin() as conn:
            result = conn.execute(
                sa.update(d)
                .where(d.c.id == digest_id, d.c.claimed_by == token)
                .values(claimed_by=None, claimed_until=None)
            )
            return bool(result.rowcount == 1)

    @contextlib.contextmanager
    def exclusive(self, name: str) -> Iterator[bool]:
        """Hold a cluster-wide lock named `name` (PostgreSQL advisory lock) while the block runs.

        Yields False, without waiting, when another process holds it. On SQLite there is one
        daemon, so it always yields True.
        """
        if self.engine.dialect.name != "postgresql":
            yield True
            return
        key = zlib.crc32(name.encode()) - 2**31  # a stable signed 32-bit key
        with self.engine.connect() as conn:
            got = bool(
                conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar()
            )
            conn.commit()
            try:
                yield got
            finally:
                if got:
                    conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                    conn.commit()
