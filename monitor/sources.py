"""When a feed is next due, and how healthy it looks: pure decisions, no I/O.

The state these decisions read and write (interval, next check, error streak, last success)
lives in the database, so the daemon, `monitor check` and a restart all agree on what is due.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

MAX_WAIT = timedelta(days=1)
SILENT_AFTER = timedelta(days=3)
# "Used to publish daily": new items on at least this many of the 7 days before it went quiet.
DAILY_DAYS = 5


def next_check(
    now: datetime,
    interval_minutes: float,
    *,
    error_streak: int = 0,
    max_backoff_hours: float = 6.0,
    retry_after: float | None = None,
    max_age: float | None = None,
    jitter: float | None = None,
) -> datetime:
    """The next time to poll a feed.

    Healthy feeds wait their interval, or the server's Cache-Control max-age when that is
    longer. Failing ones back off exponentially (interval × 2^(n-1)) up to the cap, and never
    give up; up to 10% jitter is taken off so that feeds that failed together do not retry
    together, and the cap is never exceeded. A server's Retry-After is honoured as a minimum.
    Every wait is capped at one day, whatever a server asks.
    """
    # Server-given seconds are clamped before any timedelta is built from them: a timedelta
    # holds at most about 8.6e13 seconds, and a header may hold any number of digits.
    longest = MAX_WAIT.total_seconds()
    wait = timedelta(minutes=interval_minutes)
    if error_streak > 0:
        factor = 2 ** min(error_streak - 1, 20)
        wait = min(wait * factor, max(timedelta(hours=max_backoff_hours), wait))
        j = random.random() if jitter is None else jitter
        wait -= wait * 0.1 * j
    elif max_age is not None and max_age > 0:
        wait = max(wait, timedelta(seconds=min(max_age, longest)))
    if retry_after is not None and retry_after > 0:
        wait = max(wait, timedelta(seconds=min(retry_after, longest)))
    return now + min(wait, MAX_WAIT)


def is_silent(item_days: Iterable[date], last_item: datetime | None, now: datetime) -> bool:
    """A feed that used to publish daily and has published nothing for three days.

    `item_days` are the days (UTC) on which the feed's items were published (or first seen);
    the feed counts as daily when it had items on at least DAILY_DAYS of the seven days
    before its newest item.
    """
    if last_item is None or now - last_item < SILENT_AFTER:
        return False
    last_day = last_item.date()
    window = {last_day - timedelta(days=n) for n in range(7)}
    return len(window.intersection(item_days)) >= DAILY_DAYS


@dataclass(frozen=True, slots=True)
class Status:
    """What `monitor feeds list` says about a feed, in words."""

    label: str  # ok, new, failing, gone, disabled, silent
    detail: str = ""


def feed_status(
    *,
    enabled: bool,
    gone: bool,
    error_streak: int,
    failing_since: datetime | None,
    last_success: datetime | None,
    silent: bool,
) -> Status:
    if gone:
        return Status("gone", "HTTP 410: not polled until re-enabled")
    if not enabled:
        return Status("disabled")
    if error_streak:
        since = failing_since.strftime("%Y-%m-%d %H:%M") if failing_since else "?"
        return Status("failing", f"failing since {since}")
    if last_success is None:
        return Status("new")
    if silent:
        return Status("silent", "no new items for 3 days, used to publish daily")
    return Status("ok")


def latest_next_check(now: datetime) -> datetime:
    """The latest next check `next_check` sets at `now`: every wait it gives, the interval,
    the error backoff and a server's Retry-After or max-age alike, is capped at MAX_WAIT.

    A next check beyond it was set by a clock that ran fast; the feed is due, or it would
    wait as long as the clock was wrong (years, once a fast clock is put right).
    """
    return now + MAX_WAIT
