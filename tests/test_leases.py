"""Feed scheduling and leases under a wrong clock and long passes (issue #18): the real
pipeline `poll` over feeds served on 127.0.0.1, real SQLite (and PostgreSQL where
configured), lease owners checked against live processes of this machine."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from conftest import RELEVANT_RSS, write_config
from servers import FeedServer, Request, Response

from monitor.match import Matcher
from monitor.owners import Owner, died_here, lease_owner, parse_owner, process_space, start_time
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


@contextmanager
def live_process() -> Iterator[int]:
    """The pid of a process of this machine that runs until the block ends."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        yield proc.pid
    finally:
        proc.kill()
        proc.wait()


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_an_owner_is_told_apart_by_its_start_time_and_machine() -> None:
    host, space = socket.gethostname(), process_space()
    assert space, "this test needs /proc (boot id, pid namespace)"
    with live_process() as pid:
        start = start_time(pid)
        assert start is not None
        other_start = f"{int(start, 16) + 1:x}"
        assert not died_here(f"{host}:{pid}/{space}.{start}:t1")  # alive
        # The pid now runs another process than the one that took the lease: it died.
        assert died_here(f"{host}:{pid}/{space}.{other_start}:t1")
        assert died_here(f"{host}:{pid}/{space}.{other_start}")  # a digest sender's
        # Same hostname, another boot or pid namespace (a container, a clone): not ours to
        # release, whether or not a process of that pid runs here.
        assert not died_here(f"{host}:{pid}/0badf00d.{other_start}:t1")
        assert not died_here(f"{host}:{dead_pid()}/0badf00d.{start}:t1")
        # Owners of earlier versions: hostname and pid only.
        assert not died_here(f"{host}:{pid}:t1")
        assert not died_here(f"{host}:{pid}")
    gone = dead_pid()
    assert died_here(f"{host}:{gone}:t1")
    assert died_here(f"{host}:{gone}")
    assert died_here(f"{host}:{gone}/{space}.{start}:t1")
    assert not died_here(f"elsewhere:{gone}:t1")
    for odd in ("", host, f"{host}:", f"{host}:x1", f"{host}:0", f"{host}:\u0661\u0662"):
        assert not died_here(odd)
    # This process's own owners: alive, recorded with what tells it apart, unique per pass.
    mine = lease_owner()
    assert not died_here(mine) and not died_here(lease_owner(tag=False))
    assert mine != lease_owner()
    assert parse_owner(mine) == Owner(
        host, os.getpid(), space, start_time(os.getpid()) or "", mine[-8:]
    )
    assert len(mine) <= 100 - (64 - len(host))  # within the column for any hostname


def test_a_pass_takes_over_the_leases_of_a_pid_that_was_reused(
    tmp_path: Path, feed_server: FeedServer, db_url: str
) -> None:
    url = feed_server.feed("/f.xml", RELEVANT_RSS)
    with (
        monitor(tmp_path, db_url, [("f", url)]) as (settings, store, matcher),
        live_process() as pid,
    ):
        start = start_time(pid)
        assert start is not None
        # A lease of an hour, taken by a process that had this pid before the live one.
        owner = f"{socket.gethostname()}:{pid}/{process_space()}.{int(start, 16) - 1:x}:t1"
        assert store.claim_feeds(owner, datetime.now(UTC), timedelta(hours=1))
        assert store.lease_owners() == [owner]
        assert poll(settings, store, matcher).feeds_polled == 1
        assert store.lease_owners() == []
    assert feed_server.hits["/f.xml"] == 1


def test_a_batch_claimed_late_in_a_pass_holds_a_live_lease(
    tmp_path: Path, feed_server: FeedServer, db_url: str
) -> None:
    # A pass that began two hours ago (leases of ten minutes) claims a batch now: while the
    # feed is fetched, no other process can take it.
    taken: list[list[str]] = []

    def answer(_request: Request) -> Response:
        with Store(db_url) as other:
            claimed = other.claim_feeds("other", datetime.now(UTC), timedelta(minutes=10))
            taken.append([f.name for f in claimed])
        return Response(200, RELEVANT_RSS, {"Content-Type": "application/rss+xml"})

    url = feed_server.route("/f.xml", answer)
    extra = "[daemon]\nlease_seconds = 600\n"
    with monitor(tmp_path, db_url, [("f", url)], extra) as (settings, store, matcher):
        began = datetime.now(UTC) - timedelta(hours=2)
        assert poll(settings, store, matcher, now=began).feeds_polled == 1
    assert taken == [[]]
