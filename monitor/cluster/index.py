"""Where stories' recent items are looked up, and the clusterer that uses it.

Owns the `StoryIndex` protocol (the database implements it with an indexed table of
(key, item) rows), `MemoryStoryIndex` (dicts, pruned to the time window so memory and
cost per item stay flat however long the archive grows), `index_keys` (the one place
that says which keys an item is posted under) and `Clusterer`, which fingerprints an
item, asks the index for candidates, calls `decide` and allocates new story ids.
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import NamedTuple, Protocol

from monitor.canonical import article_id, canonical_url
from monitor.cluster.decide import Candidate, ClusterSettings, Decision, Neighbour, decide
from monitor.cluster.fingerprint import Fingerprint, fingerprint, url_key
from monitor.cluster.updates import facts_of, is_update, merge_facts

__all__ = [
    "Clusterer",
    "Found",
    "MemoryStoryIndex",
    "StoryIndex",
    "counter",
    "index_keys",
    "tie",
]


MAX_POSTINGS = 50  # newest items looked at per key (the database index caps the same way)


def _article_key(article: str) -> str:
    return "a" + hashlib.blake2b(article.encode(), digest_size=6, person=b"fm-key").hexdigest()


# Keys that unrelated reports of a busy day often share: an LSH band (one common word can
# be the minimum of both its rows), an event kind or a speaker (every report of the kind).
_WEAK_KINDS = frozenset("bks")


def tie(key: str) -> int:
    """How much sharing `key` ties two reports: 1 for a weak key (see _WEAK_KINDS), 2 for
    a title word pair, the same text, URL or article."""
    return 1 if key[0] in _WEAK_KINDS else 2


def index_keys(canonical: str, fp: Fingerprint) -> list[str]:
    """Every key an item is posted under and looked up by (short ASCII strings).

    LSH bands and title word pairs find reworded copies; the exact-text key finds
    verbatim copies; the URL key finds the same link; the article key finds an
    outlet's re-headlined article. All keys are prefixed by kind, so they cannot collide.
    """
    keys = [*fp.band_keys, fp.exact_key]
    if canonical:
        keys.append(url_key(canonical))
        article = article_id(canonical)
        if article is not None:
            keys.append(_article_key(article))
    return list(dict.fromkeys(keys))


class Found(NamedTuple):
    """What a lookup found: the neighbours (oldest first), and by item key how much the keys
    each was found under tie it to the report looked up (the sum of their `tie`s)."""

    neighbours: list[Neighbour]
    shared: dict[str, int]


class StoryIndex(Protocol):
    """Recent items of stories, looked up by key."""

    def candidates(self, band_keys: Sequence[str], since: datetime) -> Found:
        """Items posted under any of `band_keys`, published at or after `since`."""
        ...

    def add(
        self,
        story_id: int,
        item_key: str,
        canonical_url: str,
        fingerprint: Fingerprint,
        published: datetime,
    ) -> None:
        """Post an item of `story_id` under its `index_keys`."""
        ...


class MemoryStoryIndex:
    """StoryIndex in dicts. Items older than `retention` before the newest item seen are
    dropped, so it holds one window of news, not the archive."""

    def __init__(
        self, retention: timedelta = timedelta(hours=72), max_postings: int = MAX_POSTINGS
    ) -> None:
        self.retention = retention
        self.max_postings = max_postings
        self._postings: dict[str, dict[int, Neighbour]] = {}
        self._entries: dict[int, tuple[Neighbour, list[str]]] = {}
        self._by_time: list[tuple[datetime, int]] = []  # heap: oldest first
        self._seq = itertools.count()
        self._newest: datetime | None = None

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def key_count(self) -> int:
        return len(self._postings)

    def candidates(self, band_keys: Sequence[str], since: datetime) -> Found:
        seen: dict[int, Neighbour] = {}
        shared: dict[str, int] = {}
        for key in dict.fromkeys(band_keys):
            # Newest first, at most max_postings a key: event and speaker keys are shared
            # by every report of a kind in the window; the cap keeps the cost per item flat.
            posting = self._postings.get(key, {})
            for seq, n in itertools.islice(reversed(posting.items()), self.max_postings):
                if n.published >= since:
                    seen[seq] = n
                    shared[n.item_key] = shared.get(n.item_key, 0) + tie(key)
        return Found([seen[s] for s in sorted(seen)], shared)

    def add(
        self,
        story_id: int,
        item_key: str,
        canonical_url: str,
        fingerprint: Fingerprint,
        published: datetime,
    ) -> None:
        neighbour = Neighbour(story_id, canonical_url, fingerprint, published, item_key)
        keys = index_keys(canonical_url, fingerprint)
        seq = next(self._seq)
        self._entries[seq] = (neighbour, keys)
        for key in keys:
            self._postings.setdefault(key, {})[seq] = neighbour
        heapq.heappush(self._by_time, (published, seq))
        if self._newest is None or published > self._newest:
            self._newest = published
            self.prune(published - self.retention)

    def prune(self, before: datetime) -> int:
        """Drop items published before `before`; returns how many."""
        dropped = 0
        while self._by_time and self._by_time[0][0] < before:
            _, seq = heapq.heappop(self._by_time)
            _, keys = self._entries.pop(seq)
            for key in keys:
                posting = self._postings.get(key)
                if posting is not None:
                    posting.pop(seq, None)
                    if not posting:
                        del self._postings[key]
            dropped += 1
        return dropped


def counter(start: int = 1) -> Callable[[], int]:
    """A story id allocator that counts up from `start` (the in-memory default)."""
    ids: Iterator[int] = itertools.count(start)
    return lambda: next(ids)


class Clusterer:
    """Places items into stories: fingerprint, look up, decide, record."""

    def __init__(
        self,
        index: StoryIndex,
        settings: ClusterSettings | None = None,
        allocate: Callable[[], int] | None = None,
    ) -> None:
        self.index = index
        self.settings = settings or ClusterSettings()
        self.allocate = allocate or counter()

    def assign(
        self,
        item_key: str,
        url: str | None,
        title: str,
        summary: str,
        published: datetime,
        fp: Fingerprint | None = None,
        canonical: str | None = None,
    ) -> Decision:
        """The story of this item (allocating a new one when none fits), recorded in the
        index. A new story's Decision carries its fresh id and `new=True`. `fp` and
        `canonical` (the canonical form of `url`) are the item's fingerprint and canonical
        URL when the caller has them already (worked out in the parse pool)."""
        when = published if published.tzinfo is not None else published.replace(tzinfo=UTC)
        canon = canonical if canonical is not None else canonical_url(url) if url else ""
        fp = fp or fingerprint(title, summary)
        window = timedelta(hours=self.settings.window_hours)
        neighbours, shared = self.index.candidates(index_keys(canon, fp), when - window)
        decision = decide(Candidate(canon, fp, when), neighbours, self.settings, shared)
        if decision.story_id is None:
            decision = replace(decision, story_id=self.allocate(), new=True)
        elif self.settings.updates:
            story = [n.fingerprint for n in neighbours if n.story_id == decision.story_id]
            update = is_update(merge_facts(facts_of(f) for f in story), fp)
            decision = replace(decision, update=update)
        assert decision.story_id is not None  # for the type checker: allocated above
        self.index.add(decision.story_id, item_key, canon, fp, when)
        return decision
