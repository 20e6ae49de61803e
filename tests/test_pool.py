"""The parse pool: started on demand, its workers parse as the pass would, a dead worker is
replaced, and no worker outlives a pass process killed without shutting it down."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import RELEVANT_RSS, run, write_config
from servers import FeedServer, Response

from monitor.store import Store

ROOT = Path(__file__).resolve().parents[1]

CHILD = """
import os, time
from monitor.pipeline import _process_pool
pool = _process_pool(2)
pids = {pool.submit(os.getpid).result() for _ in range(8)}
print(" ".join(map(str, sorted(pids))), flush=True)
time.sleep(120)
"""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def test_workers_exit_when_the_pass_process_is_killed() -> None:
    if not Path("/proc/self/stat").exists():
        pytest.skip("needs /proc")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        workers = [int(p) for p in proc.stdout.readline().split()]
        assert workers and all(_alive(p) for p in workers)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        deadline = time.monotonic() + 20
        while any(_alive(p) for p in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(_alive(p) for p in workers), "pool workers outlived their pass"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_parse_pool_starts_on_demand_and_is_shared(monkeypatch: pytest.MonkeyPatch) -> None:
    from concurrent.futures import Executor, ThreadPoolExecutor

    import monitor.pipeline as pipeline

    made: list[Executor] = []

    def fake_pool(workers: int, book: object = None) -> Executor:
        made.append(ThreadPoolExecutor(workers))
        return made[-1]

    monkeypatch.setattr(pipeline, "_process_pool", fake_pool)
    pool = pipeline._LazyPool(2)
    assert made == []  # nothing started until a body needs parsing
    first = pool.get()
    assert pool.get() is first and len(made) == 1  # shared by every batch of the poll
    pool.close()
    assert len(made) == 1
    assert pool.get() is not first  # a closed pool is not handed out again
    pool.close()


def _crash(status: int) -> None:
    os._exit(status)


def _fail() -> None:
    raise ValueError("no such thing")


def test_a_dead_worker_fails_its_call_and_is_replaced() -> None:
    from concurrent.futures.process import BrokenProcessPool

    from monitor.workers import WorkerPool

    pool = WorkerPool(1)
    try:
        first = pool.submit(os.getpid).result()
        assert first != os.getpid()
        with pytest.raises(BrokenProcessPool, match="exited with status 3"):
            pool.submit(_crash, 3).result()
        second = pool.submit(os.getpid).result()
        assert second not in (first, os.getpid())
        assert not _alive(first) and _alive(second)  # the dead worker is reaped, not kept
        # An exception raised in a worker comes back as itself, saying where it was raised.
        with pytest.raises(ValueError, match="no such thing") as raised:
            pool.submit(_fail).result()
        assert "in worker process" in "".join(getattr(raised.value, "__notes__", []))
        assert pool.submit(os.getpid).result() == second  # and the worker lives on
    finally:
        pool.shutdown()
    assert not _alive(second)  # shutdown waits for the workers to exit


def _die_on(name: str, book: object) -> None:
    """A worker initializer (run in the worker): as the pass's own, except that parsing the
    feed called `name` kills the worker, as a crash in a C parser would."""
    import monitor.itemize as itemize

    itemize.init_worker(book)  # type: ignore[arg-type]
    real = itemize.itemize

    def itemize_or_die(body: bytes, feed: object, *args: object) -> object:
        if getattr(feed, "name", None) == name:
            os._exit(70)
        return real(body, feed, *args)  # type: ignore[arg-type]

    itemize.itemize = itemize_or_die  # type: ignore[assignment]


def _sleep_then_pid(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


def test_a_worker_outlasts_signals_meant_for_its_pass() -> None:
    """SIGTERM, SIGINT and SIGHUP sent to the process group (a service manager stopping the
    daemon, Ctrl-C) leave a worker's call to finish; closing the pool ends the worker."""
    from monitor.workers import WorkerPool

    pool = WorkerPool(1)
    try:
        pid = pool.submit(os.getpid).result()
        call = pool.submit(_sleep_then_pid, 1.0)
        time.sleep(0.3)
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            os.kill(pid, signum)
        assert call.result(timeout=20) == pid
    finally:
        pool.shutdown()
    assert not _alive(pid)


def test_a_worker_dying_on_one_feed_fails_that_feed_only(
    tmp_path: Path, feed_server: FeedServer, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import monitor.pipeline as pipeline
    from monitor.workers import WorkerPool

    def pool(workers: int, book: object = None) -> WorkerPool:
        return WorkerPool(workers, initializer=_die_on, initargs=("bomb", book))

    monkeypatch.setattr(pipeline, "_process_pool", pool)
    rss = {"Content-Type": "application/rss+xml"}
    names = ["bomb", *(f"f{i}" for i in range(pipeline.POOL_MIN_FEEDS))]
    feeds = [(n, feed_server.route(f"/{n}.xml", Response(200, RELEVANT_RSS, rss))) for n in names]
    # One worker: every feed parsed after the bomb's was parsed by its replacement.
    config = write_config(
        tmp_path, db_url=sqlite_url, feeds=feeds, fetch="parse_workers = 1\nconcurrency = 1"
    )
    out = run(config, "check", "--all").output
    assert "failures: 1" in out and "the parser process died on this feed" in out
    assert f"new items: {3 * (len(names) - 1)}," in out  # every other feed's three items
    with Store(sqlite_url) as store:
        health = {h.name: h for h in store.feed_health()}
    assert health["bomb"].error_streak == 1 and health["bomb"].last_success is None
    for name in names[1:]:
        assert health[name].error_streak == 0 and health[name].last_success is not None, name


def test_workers_match_and_fingerprint_as_the_pass_process_would() -> None:
    """Matching and fingerprints move into the pool: a worker, which compiles the rules
    from the pass's rule book, finds exactly what the pass process finds, and fingerprints
    the matching items only."""
    from datetime import UTC, datetime

    from monitor.cluster import fingerprint
    from monitor.itemize import itemize
    from monitor.match import Matcher
    from monitor.models import FeedState
    from monitor.pipeline import _process_pool

    matcher = Matcher.from_file(ROOT / "config" / "rules.toml")
    feed = FeedState(1, "Recorded", "https://example.org/feed", "en")
    fetched = datetime(2026, 8, 13, 12, tzinfo=UTC)
    pool = _process_pool(1, matcher.book)
    matched = 0
    try:
        for path in sorted((ROOT / "seeds" / "feeds").glob("*.xml"))[:12]:
            body = path.read_bytes()
            here = itemize(body, feed, "application/rss+xml", fetched, matcher)
            there = pool.submit(itemize, body, feed, "application/rss+xml", fetched).result()
            assert there.items == here.items and there.items
            assert there.matches == tuple(tuple(matcher.match(i)) for i in here.items)
            assert there.fingerprints == tuple(
                fingerprint(i.title, i.summary) if m else None
                for i, m in zip(here.items, there.matches, strict=True)
            )
            matched += sum(1 for m in there.matches if m)
    finally:
        pool.shutdown()
    assert matched > 0
    assert itemize(body, feed, None, fetched).matches == ()  # no matcher given, none here
