"""When digests are due: pure decisions about send times in recipients' time zones.

The daemon's cron jobs fire at each recipient's send time, but the decision whether a digest
is due is taken here from the database's record of the last digest, so a restart after
downtime sends exactly one catch-up digest, and a second trigger the same day sends none.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo


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
    return last < slot
