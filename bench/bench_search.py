"""Search latency of the desk (`/search`): p50/p95 of a search for one word, on SQLite and
(when MONITOR_BENCH_POSTGRES_URL is set) PostgreSQL, beside a `LIKE '%word%'` scan of the
same items in the same run.

Run from the project root: `python bench/bench_search.py [--items N]` (default 100,000;
`--million` for 1,000,000). Items are generated from the words of the recorded feeds (seeds/
and tests/data/), each in a story of its own, written straight into a migrated database so
that the index is built by the database's own machinery as the store's inserts would build
it. Figures are printed, not asserted. Not part of `make test`.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from monitor.search import make_filters  # noqa: E402
from monitor.store import Store  # noqa: E402
from monitor.store import tables as t  # noqa: E402
from monitor.store.engine import make_engine, upgrade  # noqa: E402
from monitor.store.tables import table_of  # noqa: E402

WORK = ROOT / "bench" / ".work"
QUERIES = 60


def vocabulary() -> list[str]:
    words: list[str] = []
    for folder in (ROOT / "seeds" / "feeds", ROOT / "tests" / "data" / "feeds"):
        for path in sorted(folder.iterdir()):
            text = path.read_text("utf-8", errors="replace")
            for title in re.findall(r"<title>(?:<!\[CDATA\[)?(.*?)(?:\]\]>)?</title>", text, re.S):
                words += re.findall(r"\w{3,}", title)
    return words


def fill(url: str, n: int, words: list[str]) -> None:
    upgrade(url)
    engine = make_engine(url)
    rng = random.Random(20)
    now = datetime.now(UTC)
    feeds, stories, items = table_of(t.Feed), table_of(t.Story), table_of(t.Item)
    with engine.begin() as conn:
        feed_id = conn.execute(
            sa.insert(feeds).values(url="https://bench.example.org/feed", name="bench")
        ).inserted_primary_key[0]
    batch = 5_000
    for start in range(0, n, batch):
        count = min(batch, n - start)
        with engine.begin() as conn:
            when = [now - timedelta(minutes=rng.randrange(90 * 24 * 60)) for _ in range(count)]
            titles = [" ".join(rng.choices(words, k=rng.randint(6, 14))) for _ in range(count)]
            ids = conn.execute(
                sa.insert(stories).returning(stories.c.id),
                [{"title": ti, "first_seen": w} for ti, w in zip(titles, when, strict=True)],
            ).scalars()
            conn.execute(
                sa.insert(items),
                [
                    {
                        "feed_id": feed_id,
                        "key": f"k{start + i}",
                        "url": f"https://bench.example.org/{start + i}",
                        "title": titles[i],
                        "summary": " ".join(rng.choices(words, k=rng.randint(20, 50))),
                        "fetched": when[i],
                        "content_hash": f"{start + i:064d}",
                        "story_id": sid,
                    }
                    for i, sid in enumerate(ids)
                ],
            )
        print(f"  {start + count:,} items", end="\r", flush=True)
    print()
    engine.dispose()


def measure(url: str, queries: list[str]) -> tuple[list[float], list[float]]:
    store = Store(url)
    fts, like = [], []
    try:
        for word in queries:
            started = time.perf_counter()
            store.story_page(make_filters(word), per_page=25)
            fts.append(time.perf_counter() - started)
        with store.engine.connect() as conn:
            # every matching story, as ranking them needs (a LIMIT would stop a scan early)
            scan = sa.text(
                "SELECT count(DISTINCT story_id) FROM item WHERE title LIKE :p OR summary LIKE :p"
            )
            for word in queries[: QUERIES // 4]:  # a scan is slow: fewer of them
                started = time.perf_counter()
                conn.execute(scan, {"p": f"%{word}%"}).all()
                like.append(time.perf_counter() - started)
    finally:
        store.close()
    return fts, like


def report(name: str, fts: list[float], like: list[float]) -> None:
    def pct(values: list[float], q: float) -> float:
        return sorted(values)[min(len(values) - 1, int(q * len(values)))] * 1000

    p50, p95 = pct(fts, 0.5), pct(fts, 0.95)
    like50 = statistics.median(like) * 1000
    print(f"{name}: search p50 {p50:.1f} ms, p95 {p95:.1f} ms; LIKE scan p50 {like50:.1f} ms")
    print(f"{name}: the LIKE scan takes {like50 / p50:.1f}x the indexed search (p50)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--million", action="store_true", help="1,000,000 items")
    args = parser.parse_args()
    n = 1_000_000 if args.million else args.items
    words = vocabulary()
    rng = random.Random(7)
    queries = rng.sample(sorted(set(words)), QUERIES)
    print(f"{n:,} items from {len(set(words)):,} words of the recorded feeds")
    WORK.mkdir(parents=True, exist_ok=True)
    path = WORK / f"search-{n}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    sqlite_url = f"sqlite:///{path}"
    fill(sqlite_url, n, words)
    report("SQLite FTS5", *measure(sqlite_url, queries))
    pg = os.environ.get("MONITOR_BENCH_POSTGRES_URL")
    if pg:
        engine = sa.create_engine(pg)
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA IF EXISTS bench_search CASCADE")
            conn.exec_driver_sql("CREATE SCHEMA bench_search")
        engine.dispose()
        sep = "&" if "?" in pg else "?"
        url = f"{pg}{sep}options=-csearch_path%3Dbench_search"
        fill(url, n, words)
        report("PostgreSQL tsvector", *measure(url, queries))
    else:
        print("PostgreSQL: skipped (set MONITOR_BENCH_POSTGRES_URL to run it)")


if __name__ == "__main__":
    main()
