"""Several daemons on one PostgreSQL: leases split the feeds, claims split the deliveries.

Real PostgreSQL (MONITOR_TEST_POSTGRES_URL), daemons as subprocesses, a scripted feed server
on 127.0.0.1 that counts requests per feed.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import sqlalchemy as sa
import test_daemon
from conftest import rss, run, send_time_passed, write_config
from servers import FeedServer, Response
from test_daemon import Proc, until

from monitor.store.engine import current_revision, head_revision, make_engine

procs = test_daemon.procs  # the fixture that kills leftover daemons


def scalar(url: str, sql: str) -> int:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.text(sql)).scalar_one())
    finally:
        engine.dispose()


def execute(url: str, sql: str) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(sql))
    finally:
        engine.dispose()


def feeds_on(server: FeedServer, n: int, delay: float = 0.0) -> list[tuple[str, str]]:
    feeds = []
    for i in range(n):
        body = rss(
            (f"p{i}-a", f"TTP attack {i} near Chaman", "The TTP claimed it."),
            (f"p{i}-b", f"Torkham crossing closed {i}", "Firing at Torkham."),
        )
        url = server.route(
            f"/p{i}.xml", Response(200, body, {"Content-Type": "application/rss+xml"}, delay=delay)
        )
        feeds.append((f"P{i}", url))
    return feeds


def config_for(
    tmp: Path, url: str, feeds: list[tuple[str, str]], *, lease: float, interval: float
) -> Path:
    # On the digest's clock (write_config's timezone, Asia/Karachi): a time of day taken from
    # UTC is hours ahead there, and not in the past at all once Karachi's date has moved on.
    past = send_time_passed("Asia/Karachi", 30)
    return (
        write_config(
            tmp,
            db_url=url,
            feeds=feeds,
            recipients=["a@example.org", "b@example.org"],
            fetch=f"interval_minutes = {interval}\nper_host = 8",
            digest_extra=f'send_at = "{past}"',
            extra=f"[daemon]\npoll_seconds = 0.5\nlease_seconds = {lease}\n",
        ).parent
        / "monitor.toml"
    )


def test_three_daemons_fetch_each_feed_once_per_interval(
    tmp_path: Path, feed_server: FeedServer, pg_url: str, procs: list[Proc]
) -> None:
    config = config_for(tmp_path, pg_url, feeds_on(feed_server, 300), lease=30, interval=10)
    daemons = [Proc(config) for _ in range(3)]
    procs.extend(daemons)
    until(lambda: len(feed_server.hits) >= 300, timeout=120, what="every feed fetched")
    time.sleep(3)  # any second fetch within the interval would show by now
    hits = Counter({p: n for p, n in feed_server.hits.items() if p.startswith("/p")})
    assert len(hits) == 300 and set(hits.values()) == {1}
    assert scalar(pg_url, "SELECT count(*) FROM item") == 600
    polled = [
        sum(int(n) for n in re.findall(r"poll pass: (\d+) feeds", d.output())) for d in daemons
    ]
    assert sum(polled) == 300
    assert sum(1 for n in polled if n) >= 2, f"the work was not shared: {polled}"
    # One digest per recipient across the three daemons, and no story twice.
    until(
        lambda: (
            scalar(pg_url, "SELECT count(*) FROM digest WHERE kind = 'digest' AND status = 'sent'")
            == 2
        ),
        what="one digest per recipient",
    )
    time.sleep(2)
    assert scalar(pg_url, "SELECT count(*) FROM digest WHERE kind = 'digest'") == 2
    assert (
        scalar(
            pg_url,
            "SELECT count(*) FROM (SELECT recipient, kind, story_id FROM digest_story "
            "GROUP BY 1, 2, 3 HAVING count(*) > 1) d",
        )
        == 0
    )
    for d in daemons:
        d.signal(15)
    for d in daemons:
        assert d.wait(15) == 0


def test_killed_daemons_leases_are_taken_over(
    tmp_path: Path, feed_server: FeedServer, pg_url: str, procs: list[Proc]
) -> None:
    config = config_for(
        tmp_path, pg_url, feeds_on(feed_server, 40, delay=1.0), lease=4, interval=10
    )
    first = Proc(config)
    procs.append(first)
    until(lambda: sum(feed_server.hits.values()) >= 3, timeout=60, what="the first daemon to fetch")
    leased = scalar(pg_url, "SELECT count(*) FROM feed WHERE lease_owner IS NOT NULL")
    assert leased > 0
    first.p.kill()  # SIGKILL mid-pass: it leaves leases behind
    first.wait(5)
    stranded = scalar(
        pg_url, "SELECT count(*) FROM feed WHERE lease_owner IS NOT NULL AND last_checked IS NULL"
    )
    assert stranded > 0
    # Leases of a daemon on another machine (which we cannot ask) must expire first.
    execute(
        pg_url,
        "UPDATE feed SET lease_owner = 'elsewhere:1:gone', lease_until = now() + interval '6 seconds' "
        "WHERE id IN (SELECT id FROM feed WHERE lease_owner IS NOT NULL AND last_checked IS NULL "
        "ORDER BY id LIMIT 5)",
    )
    others = [Proc(config) for _ in range(2)]
    procs.extend(others)
    time.sleep(3)
    assert (
        scalar(
            pg_url,
            "SELECT count(*) FROM feed WHERE lease_owner = 'elsewhere:1:gone' AND last_checked IS NULL",
        )
        == 5
    )
    until(
        lambda: scalar(pg_url, "SELECT count(*) FROM item") == 80,
        timeout=90,
        what="every item stored",
    )
    assert scalar(pg_url, "SELECT count(*) FROM feed WHERE last_checked IS NULL") == 0
    assert max(n for p, n in feed_server.hits.items() if p.startswith("/p")) <= 2
    until(
        lambda: (
            scalar(pg_url, "SELECT count(*) FROM digest WHERE kind = 'digest' AND status = 'sent'")
            >= 2
        ),
        what="the digests",
    )
    assert (
        scalar(
            pg_url,
            "SELECT count(*) FROM (SELECT recipient, kind, story_id FROM digest_story "
            "GROUP BY 1, 2, 3 HAVING count(*) > 1) d",
        )
        == 0
    )
    emls = Counter(
        re.sub(r"^.*-digest-\d+-", "", p.name) for p in (tmp_path / "outbox").glob("*-digest-*.eml")
    )
    assert set(emls.values()) == {1}, emls


def test_two_upgrades_at_once(tmp_path: Path, pg_empty_url: str) -> None:
    config = write_config(tmp_path, db_url=pg_empty_url)
    env = {**os.environ, "MONITOR_CONFIG": str(config)}
    upgrades = [
        subprocess.Popen(
            [sys.executable, "-m", "monitor", "db", "upgrade"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for _ in range(2)
    ]
    for u in upgrades:
        out, _ = u.communicate(timeout=120)
        assert u.returncode == 0, out.decode()
    engine = make_engine(pg_empty_url)
    try:
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


def test_copy_sqlite_to_postgresql_keeps_the_ledger(
    tmp_path: Path, feed_server: FeedServer, sqlite_url: str, pg_empty_url: str
) -> None:
    feed = feed_server.route(
        "/c.xml",
        Response(
            200,
            rss(("c1", "TTP attack in Bajaur", "The TTP claimed it.")),
            {"Content-Type": "application/rss+xml"},
        ),
        Response(
            200,
            rss(
                ("c1", "TTP attack in Bajaur", "The TTP claimed it."),
                ("c2", "Chaman border reopens", "Trade resumes at Chaman."),
            ),
            {"Content-Type": "application/rss+xml"},
        ),
    )
    config = write_config(tmp_path, db_url=sqlite_url, feeds=[("C", feed)])
    assert run(config, "check").exit_code == 0
    assert "sent" in run(config, "digest", "send").output
    copied = run(config, "db", "copy", "--to", pg_empty_url)
    assert copied.exit_code == 0, copied.output
    assert "item: 1 rows" in copied.output and "digest_story: 1 rows" in copied.output
    pg_config = write_config(tmp_path, db_url=pg_empty_url, feeds=[("C", feed)])
    assert "nothing new" in run(pg_config, "digest", "send").output  # the ledger came along
    again = run(pg_config, "check", "--all")
    assert "new items: 1" in again.output  # only c2; ids continue past the copied rows
    sent = run(pg_config, "digest", "send").output
    assert "with 1 stories" in sent or "1 stor" in sent
    refused = run(config, "db", "copy", "--to", pg_empty_url)
    assert refused.exit_code == 2 and "not empty" in refused.output
