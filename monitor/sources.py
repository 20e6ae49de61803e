"""When a feed is next due: pure scheduling decisions, no I/O.

The state these decisions read and write (next check, error streak) lives in the database,
so the daemon, `monitor check` and a restart all agree on what is due.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

MAX_WAIT = timedelta(days=1)


def next_check(
    now: datetime,
    interval_minutes: float,
    *,
    error_streak: int = 0,
    max_backoff_hours: float = 6.0,
    retry_after: float | None = None,
    jitter: float | None = None,
) -> datetime:
    """The next time to poll a feed.

    Healthy feeds wait their interval; failing ones back off exponentially (interval × 2^(n-1),
    capped, never giving up) with up to 10% jitter so that feeds that failed together do not
    retry together. A server's Retry-After is honoured as a minimum, capped at one day.
    """
    wait = timedelta(minutes=interval_minutes)
    if error_streak > 0:
        factor = 2 ** min(error_streak - 1, 20)
        wait = min(wait * factor, timedelta(hours=max_backoff_hours))
        j = random.random() if jitter is None else jitter
        wait += wait * 0.1 * j
    if retry_after is not None and retry_after > 0:
        wait = max(wait, timedelta(seconds=retry_after))
    return now + min(wait, MAX_WAIT)


def is_due(next_at: datetime | None, now: datetime) -> bool:
    return next_at is None or next_at <= now
