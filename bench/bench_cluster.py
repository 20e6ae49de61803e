"""Benchmark: story clustering cost per item as the archive grows (printed, not asserted).

Clusters 100,000 generated news-like items (deterministic: a vocabulary of places, actors
and verbs; stories repeated with rewording across outlets; timestamps over ~60 days)
through `Clusterer` + `MemoryStoryIndex`, and prints time per item and peak memory at
10k, 50k and 100k items. Then measures a naive peer in the same run: each new item
compared with every item in its window (all pairs in window), over the first 10k items.

Run: python bench/bench_cluster.py
"""

from __future__ import annotations

import random
import resource
import sys
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from monitor.canonical import canonical_url
from monitor.cluster import (
    Candidate,
    Clusterer,
    ClusterSettings,
    MemoryStoryIndex,
    Neighbour,
    decide,
    fingerprint,
)

TOTAL = 100_000
CHECKPOINTS = (10_000, 50_000, 100_000)
NAIVE_ITEMS = 10_000
NAIVE_SAMPLE_EVERY = 10  # all-pairs is slow in Python: time every 10th item of the first 10k
DAYS = 60
START = datetime(2025, 10, 1, tzinfo=UTC)

PLACES = [
    f"{a}{b}"
    for a in ("kur", "baj", "moh", "tir", "wan", "zho", "cha", "kho", "pak", "nan")
    for b in ("ram", "aur", "mand", "ah", "a", "b", "man", "st", "tika", "garh")
]
ACTORS = [
    "security forces",
    "police",
    "militants",
    "Afghan Taliban",
    "the Foreign Office",
    "the army",
    "ISPR",
    "the prime minister",
    "the defence minister",
    "tribal elders",
    "the provincial government",
    "border officials",
    "the TTP",
    "customs officials",
]
VERBS = [
    "attack",
    "repel",
    "kill",
    "arrest",
    "close",
    "reopen",
    "condemn",
    "hold talks on",
    "announce",
    "strike",
    "raid",
    "evacuate",
    "seize",
    "protest",
    "investigate",
]
OBJECTS = [
    "checkpost",
    "convoy",
    "crossing",
    "compound",
    "market",
    "school",
    "bridge",
    "trade route",
    "camp",
    "village",
    "hideout",
    "highway",
    "border post",
    "mosque",
]
OUTLETS = ["dawn.com", "geo.tv", "thenews.com.pk", "tribune.com.pk", "bbc.com", "arynews.tv"]
REWORD = {
    "attack": "assault",
    "kill": "neutralise",
    "close": "shut",
    "strike": "hit",
    "announce": "declare",
    "seize": "capture",
    "village": "hamlet",
    "market": "bazaar",
}


@dataclass(frozen=True, slots=True)
class GenItem:
    key: str
    url: str
    title: str
    summary: str
    published: datetime


def generate(total: int, seed: int = 7) -> Iterator[GenItem]:
    """Items in publication order; each story gets 1-4 reworded copies over ~a day."""
    rng = random.Random(seed)
    filler = [f"w{n:05d}" for n in range(20_000)]
    span = DAYS * 86_400
    pending: list[GenItem] = []
    made = 0
    story = 0
    while made < total:
        story += 1
        t0 = START + timedelta(seconds=span * made / total)
        actor, verb, obj = rng.choice(ACTORS), rng.choice(VERBS), rng.choice(OBJECTS)
        place, number = rng.choice(PLACES), rng.randint(2, 60)
        specific = rng.sample(filler, 12)
        for copy in range(rng.choice((1, 1, 2, 2, 3, 4))):
            v = REWORD.get(verb, verb) if copy % 2 else verb
            o = REWORD.get(obj, obj) if copy % 2 else obj
            words = specific[:]
            rng.shuffle(words)
            title = f"{actor.capitalize()} {v} {number} {o} in {place.capitalize()} {words[0]}"
            lead = f"{actor.capitalize()} {v} {o} in {place} on {number} " + " ".join(
                words[1:] + rng.sample(filler, 8)
            )
            outlet = OUTLETS[(story + copy) % len(OUTLETS)]
            when = t0 + timedelta(minutes=rng.randint(0, 20 * 60))
            pending.append(
                GenItem(
                    f"{story}-{copy}",
                    f"https://www.{outlet}/news/{story}{copy}?utm_source=rss",
                    title,
                    lead,
                    when,
                )
            )
            made += 1
        # release in order, keeping a small look-ahead so copies interleave with other stories
        pending.sort(key=lambda it: it.published)
        while len(pending) > 50:
            yield pending.pop(0)
    yield from pending


def peak_rss_mb() -> float:
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 1024 if sys.platform != "darwin" else kb / 1024 / 1024


def run_indexed(items: list[GenItem]) -> None:
    settings = ClusterSettings()
    index = MemoryStoryIndex(retention=timedelta(hours=settings.window_hours))
    clusterer = Clusterer(index, settings)
    print(f"indexed: {TOTAL:,} items, window {settings.window_hours:g}h")
    print(
        f"{'items':>8} {'µs/item (segment)':>18} {'µs/item (all)':>14} {'stories':>8} "
        f"{'in index':>9} {'keys':>8} {'peak RSS MB':>12}"
    )
    started = seg_start = time.perf_counter()
    seg_items = 0
    new_stories = 0
    for n, it in enumerate(items, 1):
        d = clusterer.assign(it.key, it.url, it.title, it.summary, it.published)
        new_stories += d.new
        if n in CHECKPOINTS:
            now = time.perf_counter()
            seg = (now - seg_start) / (n - seg_items) * 1e6
            print(
                f"{n:>8,} {seg:>18.0f} {(now - started) / n * 1e6:>14.0f} {new_stories:>8,} "
                f"{len(index):>9,} {index.key_count:>8,} {peak_rss_mb():>12.1f}"
            )
            seg_start, seg_items = now, n


def run_naive(items: list[GenItem]) -> tuple[float, float]:
    """All pairs in window for the first NAIVE_ITEMS, and the indexed path on the same items."""
    settings = ClusterSettings()
    window = timedelta(hours=settings.window_hours)
    recent: deque[Neighbour] = deque()
    next_story = 1
    timed = 0.0
    timed_count = 0
    compared = 0
    for n, it in enumerate(items[:NAIVE_ITEMS]):
        canon = canonical_url(it.url)
        t = time.perf_counter()
        fp = fingerprint(it.title, it.summary)
        while recent and recent[0].published < it.published - window:
            recent.popleft()
        sample = n % NAIVE_SAMPLE_EVERY == 0
        if sample:  # the naive peer: decide against every item in the window
            d = decide(Candidate(canon, fp, it.published), list(recent), settings)
            timed += time.perf_counter() - t
            timed_count += 1
            compared += len(recent)
            story = d.story_id
        else:
            story = None
        if story is None:
            story, next_story = next_story, next_story + 1
        recent.append(Neighbour(story, canon, fp, it.published, it.key))
    naive_us = timed / timed_count * 1e6
    index = MemoryStoryIndex(retention=window)
    clusterer = Clusterer(index, settings)
    t = time.perf_counter()
    for it in items[:NAIVE_ITEMS]:
        clusterer.assign(it.key, it.url, it.title, it.summary, it.published)
    indexed_us = (time.perf_counter() - t) / NAIVE_ITEMS * 1e6
    print(
        f"\nnaive all-pairs-in-window, first {NAIVE_ITEMS:,} items (timed 1 in "
        f"{NAIVE_SAMPLE_EVERY}, {compared / timed_count:,.0f} comparisons per item on average):"
        f" {naive_us:,.0f} µs/item"
    )
    print(f"indexed, same {NAIVE_ITEMS:,} items: {indexed_us:,.0f} µs/item")
    print(f"ratio naive / indexed: {naive_us / indexed_us:,.1f}x")
    return naive_us, indexed_us


def main() -> None:
    t = time.perf_counter()
    items = list(generate(TOTAL))
    print(f"generated {len(items):,} items over {DAYS} days in {time.perf_counter() - t:.1f}s")
    run_indexed(items)
    run_naive(items)


if __name__ == "__main__":
    main()
