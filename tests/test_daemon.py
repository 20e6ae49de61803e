"""`monitor run` as a real subprocess: start, poll, signals, locks, health, catch-up, SIGKILL."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import rss, send_time_passed, write_config
from servers import FeedServer, Response, free_port

FEED = rss(
    (
        "d1",
        "TTP attack on check post in North Waziristan",
        "Militants of the banned TTP attacked a post.",
    ),
    ("d2", "Torkham border crossing closed after firing", "Traders stranded at Torkham."),
)


def daemon_config(tmp_path: Path, url: str, feeds: list[tuple[str, str]], extra: str = "") -> Path:
    return write_config(
        tmp_path, db_url=url, feeds=feeds, extra="[daemon]\npoll_seconds = 0.5\n" + extra
    )


class Proc:
    def __init__(self, config: Path, *args: str) -> None:
        self.log = config.parent / f"daemon-{time.monotonic_ns()}.log"
        self.handle = self.log.open("wb")
        env = {**os.environ, "MONITOR_CONFIG": str(config)}
        self.p = subprocess.Popen(
            [sys.executable, "-m", "monitor", "run", *args],
            stdout=self.handle,
            stderr=subprocess.STDOUT,
            env=env,
        )

    def output(self) -> str:
        self.handle.flush()
        return self.log.read_text(encoding="utf-8", errors="replace")

    def signal(self, sig: int) -> None:
        self.p.send_signal(sig)

    def wait(self, timeout: float) -> int:
        return self.p.wait(timeout=timeout)

    def stop(self) -> None:
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait(5)
        self.handle.close()


@pytest.fixture
def procs() -> Iterator[list[Proc]]:
    started: list[Proc] = []
    yield started
    for p in started:
        p.stop()


def until(condition: Callable[[], object], timeout: float = 15.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def sqlite_path(url: str) -> str:
    return url.removeprefix("sqlite:///")


def integrity(url: str) -> None:
    with sqlite3.connect(sqlite_path(url)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def count(url: str, sql: str) -> int:
    with sqlite3.connect(sqlite_path(url)) as conn:
        return int(conn.execute(sql).fetchone()[0])


def http_get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError:
        return 0, ""


def test_polls_at_once_serves_health_and_stops_on_sigterm(
    tmp_path: Path, feed_server: FeedServer, sqlite_url: str, procs: list[Proc]
) -> None:
    port = free_port()
    config = daemon_config(
        tmp_path,
        sqlite_url,
        [("F", feed_server.feed("/f.xml", FEED))],
        extra=f'http = "127.0.0.1:{port}"\n',
    )
    d = Proc(config)
    procs.append(d)
    until(lambda: feed_server.hits["/f.xml"] >= 1, what="the first poll")
    until(lambda: http_get(f"http://127.0.0.1:{port}/healthz")[0] == 200, what="healthz ok")
    status, metrics = http_get(f"http://127.0.0.1:{port}/metrics")
    assert status == 200
    assert "monitor_polls_total" in metrics and 'monitor_fetches_total{outcome="ok"} 1.0' in metrics
    assert "monitor_items_total 2.0" in metrics
    assert count(sqlite_url, "SELECT count(*) FROM item") == 2
    started = time.monotonic()
    d.signal(signal.SIGTERM)
    assert d.wait(10) == 0
    assert time.monotonic() - started < 10
    assert "daemon stopped" in d.output()
    integrity(sqlite_url)


def test_sigterm_mid_pass_with_slow_server_exits_quickly(
    tmp_path: Path, feed_server: FeedServer, sqlite_url: str, procs: list[Proc]
) -> None:
    slow = feed_server.route(
        "/slow.xml", Response(200, FEED, {"Content-Type": "application/rss+xml"}, delay=25)
    )
    fast = feed_server.feed("/fast.xml", FEED)
    config = daemon_config(
        tmp_path, sqlite_url, [("slow", slow), ("fast", fast)], extra=""
    ).read_text()
    (tmp_path / "monitor.toml").write_text(
        config.replace("timeout_seconds = 10", "timeout_seconds = 30")
    )
    d = Proc(tmp_path / "monitor.toml")
    procs.append(d)
    until(lambda: feed_server.hits["/slow.xml"] >= 1, what="the slow fetch to start")
    time.sleep(0.5)
    started = time.monotonic()
    d.signal(signal.SIGTERM)
    assert d.wait(10) == 0, d.output()
    assert time.monotonic() - started < 10
    integrity(sqlite_url)
    # The abandoned feed stays due: its schedule was not advanced.
    assert (
        count(sqlite_url, "SELECT count(*) FROM feed WHERE name='slow' AND last_checked IS NULL")
        == 1
    )


def test_one_daemon_per_sqlite_database(
    tmp_path: Path, feed_server: FeedServer, sqlite_url: str, procs: list[Proc]
) -> None:
    config = daemon_config(tmp_path, sqlite_url, [("F", feed_server.feed("/f.xml", FEED))])
    first = Proc(config)
    procs.append(first)
    until(lambda: feed_server.hits["/f.xml"] >= 1, what="the first daemon to poll")
    second = Proc(config)
    procs.append(second)
    assert second.wait(15) == 2
    assert "already using this SQLite database" in second.output()
    assert first.p.poll() is None
    status = subprocess.run(
        [sys.executable, "-m", "monitor", "--config", str(config), "status"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert "running" in status.stdout and "not running" not in status.stdout
    assert status.returncode == 0, status.stdout


def test_refuses_a_database_that_is_behind(tmp_path: Path, procs: list[Proc]) -> None:
    url = f"sqlite:///{tmp_path / 'behind.db'}"
    d = Proc(daemon_config(tmp_path, url, []))
    procs.append(d)
    assert d.wait(15) == 2
    assert "run `monitor db upgrade`" in d.output()


def test_check_beside_the_daemon_never_sees_a_locked_database(
    tmp_path: Path, feed_server: FeedServer, sqlite_url: str, procs: list[Proc]
) -> None:
    feeds = [
        (
            f"F{i}",
            feed_server.feed(
                f"/f{i}.xml",
                rss(
                    *[
                        (
                            f"{i}-{j}",
                            f"Chaman border item {i}-{j}",
                            "Firing at the Chaman crossing.",
                        )
                        for j in range(30)
                    ]
                ),
            ),
        )
        for i in range(6)
    ]
    config = daemon_config(tmp_path, sqlite_url, feeds, extra="")
    text = config.read_text().replace("[fetch]\n", "[fetch]\ninterval_minutes = 0.01\n")
    config.write_text(text)
    d = Proc(config)
    procs.append(d)
    until(lambda: sum(feed_server.hits.values()) >= 6, what="the daemon's first pass")
    env = {**os.environ, "MONITOR_CONFIG": str(config)}
    checks = [
        subprocess.Popen(
            [sys.executable, "-m", "monitor", "check", "--all"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for _ in range(3)
    ]
    for c in checks:
        out, _ = c.communicate(timeout=120)
        assert c.returncode == 0, out.decode()
        assert b"locked" not in out
    assert "locked" not in d.output()
    assert count(sqlite_url, "SELECT count(*) FROM item") == 180
    assert (
        count(sqlite_url, "SELECT count(*) FROM (SELECT feed_id, key FROM item GROUP BY 1, 2)")
        == 180
    )


def test_sighup_reloads_feeds(
    tmp_path: Path, feed_server: FeedServer, sqlite_url: str, procs: list[Proc]
) -> None:
    a = feed_server.feed("/a.xml", FEED)
    config = daemon_config(tmp_path, sqlite_url, [("A", a)])
    d = Proc(config)
    procs.append(d)
    until(lambda: feed_server.hits["/a.xml"] >= 1, what="feed A")
    b = feed_server.feed("/b.xml", FEED)
    config.write_text(config.read_text() + f'[[feeds]]\nname = "B"\nurl = "{b}"\n')
    d.signal(signal.SIGHUP)
    until(lambda: feed_server.hits["/b.xml"] >= 1, what="feed B after SIGHUP")
    assert "configuration reloaded" in d.output()
    config.write_text(config.read_text() + "[[feeds]]\nurl = 'ftp://nope'\n")
    d.signal(signal.SIGHUP)
    until(lambda: "reload failed" in d.output(), what="a refused reload")
    assert d.p.poll() is None  # a bad config on reload keeps the daemon running


# Daemons that have finished a poll tick (a daemon's heartbeat row is written at start).
TICKED = "SELECT count(*) FROM daemon_beat WHERE last_tick IS NOT NULL"


def test_one_catch_up_digest_after_downtime(
    tmp_path: Path, feed_server: FeedServer, sqlite_url: str, procs: list[Proc]
) -> None:
    past = send_time_passed("UTC", 90)
    config = daemon_config(tmp_path, sqlite_url, [("F", feed_server.feed("/f.xml", FEED))])
    text = config.read_text().replace(
        'timezone = "Asia/Karachi"', f'timezone = "UTC"\nsend_at = "{past}"'
    )
    config.write_text(text)
    outbox = tmp_path / "outbox"
    for run_no in range(1, 3):
        d = Proc(config)
        procs.append(d)
        until(
            lambda n=run_no: count(sqlite_url, TICKED) >= n,
            what="a poll tick",
        )
        until(
            lambda: count(sqlite_url, "SELECT count(*) FROM digest") >= 1,
            what="the catch-up digest",
        )
        time.sleep(1.5)  # a second trigger would have fired by now
        d.signal(signal.SIGTERM)
        assert d.wait(10) == 0
    assert len(list(outbox.glob("*-digest-*.eml"))) == 1
    assert (
        count(sqlite_url, "SELECT count(*) FROM digest WHERE kind = 'digest' AND status = 'sent'")
        == 1
    )


def test_json_logs(
    tmp_path: Path, feed_server: FeedServer, sqlite_url: str, procs: list[Proc]
) -> None:
    bad = feed_server.route("/bad.xml", Response(500, b"no"))
    config = daemon_config(tmp_path, sqlite_url, [("Bad", bad)])
    d = Proc(config, "--log-format", "json")
    procs.append(d)
    until(lambda: "feed failed" in d.output(), what="a failure log line")
    d.signal(signal.SIGTERM)
    d.wait(10)
    records = [json.loads(line) for line in d.output().splitlines() if line.strip()]
    failed = [r for r in records if r["message"] == "feed failed"]
    assert failed and failed[0]["feed"] == "Bad" and failed[0]["url"] == bad
    assert failed[0]["level"] == "warning" and "HTTP 500" in failed[0]["error"]


def test_sigkill_at_random_points_loses_nothing(
    tmp_path: Path, feed_server: FeedServer, sqlite_url: str, procs: list[Proc]
) -> None:
    rng = random.Random(20261128)
    feeds = []
    for i in range(8):
        items = [
            (f"k{i}-{j}", f"TTP attack {i}-{j} near Chaman", "The TTP claimed it.")
            for j in range(40)
        ]
        delay = 0.3 if i % 2 else 0.0
        feeds.append(
            (
                f"F{i}",
                feed_server.route(
                    f"/k{i}.xml",
                    Response(
                        200, rss(*items), {"Content-Type": "application/rss+xml"}, delay=delay
                    ),
                ),
            )
        )
    past = send_time_passed("UTC", 5)
    config = daemon_config(tmp_path, sqlite_url, feeds)
    config.write_text(
        config.read_text().replace(
            'timezone = "Asia/Karachi"', f'timezone = "UTC"\nsend_at = "{past}"'
        )
    )
    for _ in range(8):
        d = Proc(config)
        procs.append(d)
        time.sleep(rng.uniform(0.8, 2.5))
        d.p.kill()
        d.wait(5)
        integrity(sqlite_url)
    # A final clean run completes the work the killed ones left.
    d = Proc(config)
    procs.append(d)
    until(lambda: "daemon started" in d.output(), what="the final daemon to start")
    until(
        lambda: count(sqlite_url, "SELECT count(*) FROM item") == 320, timeout=30, what="every item"
    )
    until(
        lambda: count(sqlite_url, "SELECT count(*) FROM digest WHERE status = 'sent'") >= 1,
        what="a digest",
    )
    d.signal(signal.SIGTERM)
    assert d.wait(10) == 0
    integrity(sqlite_url)
    assert count(sqlite_url, "SELECT count(*) FROM item_match") == 320 * count(
        sqlite_url, "SELECT count(DISTINCT rule_id) FROM item_match"
    )
    assert count(sqlite_url, "SELECT count(*) FROM item WHERE story_id IS NULL") == 0
    # No story is in two digests of the same recipient.
    assert (
        count(
            sqlite_url,
            "SELECT count(*) FROM (SELECT recipient, kind, story_id FROM digest_story "
            "GROUP BY 1, 2, 3 HAVING count(*) > 1)",
        )
        == 0
    )


def test_a_writer_holding_the_lock_for_3_s_does_not_fail_check(
    tmp_path: Path, feed_server: FeedServer, sqlite_url: str
) -> None:
    """faults.md 35: another process holds SQLite's write lock for 3 s; check waits, then works."""
    import threading

    config = daemon_config(tmp_path, sqlite_url, [("F", feed_server.feed("/f.xml", FEED))])
    holder = sqlite3.connect(sqlite_path(sqlite_url), isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("UPDATE feed SET note = note")
    release = threading.Timer(3.0, lambda: holder.execute("COMMIT"))
    release.start()
    started = time.monotonic()
    env = {**os.environ, "MONITOR_CONFIG": str(config)}
    result = subprocess.run(
        [sys.executable, "-m", "monitor", "check"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    release.join()
    holder.close()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "locked" not in result.stdout + result.stderr
    assert time.monotonic() - started >= 2.5  # it waited for the lock instead of failing
    assert count(sqlite_url, "SELECT count(*) FROM item") == 2


def test_after_long_downtime_one_pass_not_one_per_missed_tick(
    tmp_path: Path, feed_server: FeedServer, sqlite_url: str, procs: list[Proc]
) -> None:
    """faults.md 37: two hours down with a 60 s tick → one catch-up pass, not 120."""
    feeds = [(f"F{i}", feed_server.feed(f"/d{i}.xml", FEED)) for i in range(5)]
    config = daemon_config(tmp_path, sqlite_url, feeds)
    config.write_text(config.read_text().replace("poll_seconds = 0.5", "poll_seconds = 60"))
    env = {**os.environ, "MONITOR_CONFIG": str(config)}
    subprocess.run(
        [sys.executable, "-m", "monitor", "check"], env=env, check=True, capture_output=True
    )
    assert sum(feed_server.hits.values()) == 5
    with sqlite3.connect(sqlite_path(sqlite_url)) as conn:  # as if the last poll was 2 h ago
        conn.execute("UPDATE feed SET next_check = datetime('now', '-2 hours')")
    d = Proc(config)
    procs.append(d)
    until(lambda: sum(feed_server.hits.values()) >= 10, what="the catch-up pass")
    time.sleep(3)
    assert sum(feed_server.hits.values()) == 10  # each feed once more, and no further passes
    d.signal(signal.SIGTERM)
    assert d.wait(10) == 0


def status_of(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitor", "--config", str(config), "status", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_status_exits_0_with_a_healthy_daemon_and_1_without(
    tmp_path: Path, feed_server: FeedServer, sqlite_url: str, procs: list[Proc]
) -> None:
    config = daemon_config(tmp_path, sqlite_url, [("F", feed_server.feed("/f.xml", FEED))])
    assert status_of(config).returncode == 1
    d = Proc(config)
    procs.append(d)
    until(lambda: status_of(config).returncode == 0, what="status to see the daemon")
    data = json.loads(status_of(config).stdout)
    assert data["daemon"]["state"] == "running"
    assert [x["pid"] for x in data["daemon"]["daemons"]] == [d.p.pid]
    d.signal(signal.SIGTERM)
    assert d.wait(15) == 0, d.output()
    after = status_of(config)
    assert after.returncode == 1 and json.loads(after.stdout)["daemon"]["state"] == "not running"


def test_status_exits_3_when_a_running_daemon_has_not_polled_for_three_intervals(
    tmp_path: Path, sqlite_url: str
) -> None:
    from datetime import UTC, datetime, timedelta

    from monitor.daemon import SingleDaemonLock
    from monitor.settings import load_settings
    from monitor.store import DaemonInfo, Store

    config = daemon_config(tmp_path, sqlite_url, [])
    # The test plays a hung daemon: it holds the daemon's lock on the SQLite file, and its
    # heartbeat says the last poll ended an hour ago.
    lock = SingleDaemonLock(load_settings(config))
    lock.acquire()
    now = datetime.now(UTC)
    store = Store(sqlite_url)
    try:
        store.beat(
            DaemonInfo(
                "hung",
                "elsewhere",
                1,
                now - timedelta(hours=2),
                now - timedelta(hours=1),
                now - timedelta(minutes=59),
                None,
            )
        )
        hung = status_of(config)
        assert hung.returncode == 3, hung.stdout + hung.stderr
        data = json.loads(hung.stdout)
        assert data["daemon"]["state"] == "unhealthy"
        assert "no poll for three poll intervals" in data["daemon"]["reason"]
    finally:
        lock.release()
        store.close()
    assert status_of(config).returncode == 1  # the lock is free: no daemon at all


def test_a_failing_job_makes_the_daemon_unhealthy_until_it_succeeds(
    tmp_path: Path, sqlite_url: str
) -> None:
    from datetime import UTC, datetime

    from monitor.daemon import Daemon

    daemon = Daemon(str(daemon_config(tmp_path, sqlite_url, [])))
    daemon.last_tick = datetime.now(UTC)
    daemon.failing["retry"] = "database is locked"
    assert daemon.healthy() == (False, "failing jobs: retry: database is locked")


def test_systemd_hears_ready_watchdog_and_stopping_on_notify_socket(
    tmp_path: Path,
    feed_server: FeedServer,
    sqlite_url: str,
    procs: list[Proc],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import socket
    import tempfile

    config = daemon_config(tmp_path, sqlite_url, [("F", feed_server.feed("/f.xml", FEED))])
    # A socket path must fit in 108 bytes, which a test's tmp_path may not.
    where = Path(tempfile.mkdtemp(prefix="notify-"))
    manager = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    manager.bind(str(where / "s"))
    manager.settimeout(30)
    heard: list[str] = []

    def hear(message: str) -> None:
        while message not in heard:
            heard.extend(manager.recv(4096).decode().split("\n"))

    try:
        monkeypatch.setenv("NOTIFY_SOCKET", str(where / "s"))
        monkeypatch.setenv("WATCHDOG_USEC", "1000000")  # a ping every half second
        monkeypatch.delenv("WATCHDOG_PID", raising=False)
        d = Proc(config)
        procs.append(d)
        hear("READY=1")
        hear("WATCHDOG=1")
        assert heard.index("READY=1") < heard.index("WATCHDOG=1")
        until(lambda: feed_server.hits["/f.xml"] >= 1, what="the first poll")
        heard.clear()
        hear("WATCHDOG=1")  # still pinging once the first pass is done and healthy
        d.signal(signal.SIGTERM)
        hear("STOPPING=1")
        assert d.wait(15) == 0, d.output()
    finally:
        manager.close()
        (where / "s").unlink()
        where.rmdir()
