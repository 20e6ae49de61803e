"""Feed scheduling and leases under a wrong clock and long passes (issue #18): the real
pipeline `poll` over feeds served on 127.0.0.1, real SQLite (and PostgreSQL where
configured), lease owners checked against live processes of this machine."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from conftest import RELEVANT_RSS, write_config
from servers import FeedServer

from monitor.match import Matcher
from monitor.pipeline import poll
from monitor.settings import Settings, load_settings
from monitor.store import FetchOutcome, Store


@contextmanager
def monitor(
    tmp_path: Path, db_url: str, feeds: list[tuple[str, str]], extra: str = ""
) -> Iterator[tuple[Settings, Store, Matcher]]:
    settings = load_settings(write_config(tmp_path, db_url=db_url, feeds=feeds, extra=extra))
    with Store(settings.database_url) as store:
        store.sync_feeds(settings.feeds)
        yield settings, store, Matcher.from_file(settings.rules_path)


def test_a_clock_put_back_from_years_ahead_does_not_stop_polling(
    tmp_path: Path, feed_server: FeedServer, db_url: str
) -> None:
    url = feed_server.feed("/f.xml", RELEVANT_RSS)
    true = datetime.now(UTC)
    fast = true + timedelta(days=3 * 365)
    with monitor(tmp_path, db_url, [("f", url)]) as (settings, store, matcher):
        assert poll(settings, store, matcher, now=fast).feeds_polled == 1
        (ahead,) = store.feed_health(fast)
        assert ahead.next_check is not None and ahead.next_check > fast
        # The clock is put right: the feed set three years ahead is due now, and then
        # scheduled from the true time.
        assert poll(settings, store, matcher, now=true).feeds_polled == 1
        (health,) = store.feed_health(true)
        assert health.next_check is not None
        assert true < health.next_check <= true + timedelta(minutes=30)
        assert poll(settings, store, matcher, now=true).feeds_polled == 0  # not due early
        # The longest wait the scheduler sets (a day: backoff, Retry-After) is kept.
        (feed,) = store.due_feeds(true, ignore_schedule=True)
        day = true + timedelta(days=1)
        store.record_fetch(feed.id, FetchOutcome(checked=true, next_check=day, ok=False))
        assert store.due_feeds(true) == []
        assert store.claim_feeds("x", true, timedelta(minutes=10)) == []
        assert [f.id for f in store.due_feeds(day)] == [feed.id]
    assert feed_server.hits["/f.xml"] == 2
