"""When digests are due: pure decisions about send times in recipients' time zones.

The daemon's cron jobs fire at each recipient's send time, but the decision whether a digest
is due is taken here from the database's record of the last digest, so a restart after
downtime sends exactly one catch-up digest, and a second trigger the same day sends none.

Times recorded while the clock ran fast and was then corrected lie in the future. A time
further ahead of `now` than the interval it was set for (`set_by_a_fast_clock`) is treated
as due now, so a clock step delays a digest or an alert by at most one interval, never for
as long as the clock was wrong.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

DAY = timedelta(days=1)
# How far ahead of its interval a recorded time may be before it counts as set by a fast
# clock: room for ordinary skew between the daemons sharing a database.
CLOCK_SLACK = timedelta(hours=1)


def set_by_a_fast_clock(when: datetime, now: datetime, interval: timedelta) -> bool:
    """Whether `when`, recorded at most `interval` after the clock of its day, is further
    ahead of `now` than that: the clock that recorded it ran fast and has been corrected."""
    return when - now > interval + CLOCK_SLACK


def _at(send_at: str) -> time:
    hour, minute = send_at.split(":")
    return time(int(hour), int(minute))


def last_scheduled(now: datetime, send_at: str, timezone: str) -> datetime:
    """The most recent scheduled send time at or before `now` (aware, in UTC terms)."""
    tz = ZoneInfo(timezone)
    local = now.astimezone(tz)
    today = datetime.combine(local.date(), _at(send_at), tzinfo=tz)
    return today if today <= local else today - timedelta(days=1)


def next_scheduled(now: datetime, send_at: str, timezone: str) -> datetime:
    """The next scheduled send time after `now`."""
    return last_scheduled(now, send_at, timezone) + timedelta(days=1)


def digest_due(send_at: str, timezone: str, now: datetime, last: datetime | None) -> bool:
    """Whether a daily digest is due: the local send time has passed and no digest was made
    since. A new recipient's first digest waits for their send time."""
    slot = last_scheduled(now, send_at, timezone)
    if last is None:
        return slot.date() == now.astimezone(ZoneInfo(timezone)).date()
    if set_by_a_fast_clock(last, now, DAY):
        return True  # made "in the future": a fast clock, since corrected
    return last < slot


def alert_due(now: datetime, last: datetime | None, interval: timedelta) -> bool:
    """Whether the rate limit lets an alert email go: none was sent for `interval`, or the
    last one lies further ahead than that (sent while the clock ran fast)."""
    if last is None or set_by_a_fast_clock(last, now, interval):
        return True
    return now - last >= interval
