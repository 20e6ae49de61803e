"""The parse pool does not outlive a pass process that is killed without shutting it down."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

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


def test_parse_pool_starts_on_demand_is_shared_and_replaced_when_broken(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
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
    pool.discard(first)
    second = pool.get()
    assert second is not first
    pool.discard(first)  # a late report about the old pool does not drop the new one
    assert pool.get() is second
    pool.close()
    assert len(made) == 2


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
