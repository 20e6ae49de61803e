"""Feed bytes to items: parse, normalize, settle identity within one document, match.

This is the unit of work the pipeline runs in a process pool, off the event loop and on
every core, so it is a plain function of picklable values that returns a result instead of
raising (`FeedError` carries arguments pickle cannot rebuild). Everything about an item that
depends on the item alone is worked out here: its canonical URL, what the rules find in it,
and, for a matching item, the fingerprint the story clusterer compares. What is left for the
pass's one process (storing, placing into stories) needs the database.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, TypeVar

from monitor.canonical import canonical_url
from monitor.collector import collect_less_often
from monitor.models import FeedState, Item, Match

if TYPE_CHECKING:
    from monitor.cluster import Fingerprint
    from monitor.match import Matcher, RuleBook

log = logging.getLogger(__name__)

# The parsers (lxml, feedparser, lexbor) are imported on first use: a pass whose feeds are
# all unchanged never loads them, and with a pool only the workers do.
T = TypeVar("T")
_worker_matcher: Matcher | None = None  # a pool worker's own matcher (init_worker)
# Items read from one document; real feeds carry tens to a few hundred. The rest are dropped,
# so that one document cannot cost a pass unbounded time and memory downstream.
MAX_ITEMS = 5_000


@dataclass(frozen=True, slots=True)
class Itemized:
    items: tuple[Item, ...] = ()
    # The canonical URL of each item (None without a link), worked out here in the pool
    # rather than in the pass's one process, which also matches and stores.
    canonical_urls: tuple[str | None, ...] = ()
    # What the rules found in each item, and the story fingerprint of each matching item
    # (None for the rest); both empty when itemize was given no matcher.
    matches: tuple[tuple[Match, ...], ...] = ()
    fingerprints: tuple[Fingerprint | None, ...] = ()
    error_kind: str | None = None
    error: str | None = None
    stage: str | None = None  # with error_kind "internal": the stage that raised
    # Something about a document that was read, for the pass's report (items dropped).
    notice: str | None = None


def itemize(
    body: bytes,
    feed: FeedState,
    content_type: str | None,
    fetched: datetime,
    matcher: Matcher | None = None,
) -> Itemized:
    """The items of a feed document, or the reason it is refused (never raises FeedError).

    Items are matched with `matcher`, else with the pool worker's own (init_worker); with
    neither, `matches` and `fingerprints` stay empty.
    """
    from monitor.errors import FeedError
    from monitor.normalize import normalize
    from monitor.parse import parse_feed

    stage = "parse"
    try:
        try:
            parsed = parse_feed(body, feed.url, content_type)
        except FeedError as exc:
            return Itemized(error_kind=exc.kind, error=exc.message)
        entries, notice = capped(parsed.entries)
        items = tuple(unique_items(normalize(e, feed, fetched) for e in entries))
        canonical = tuple(canonical_url(i.url) if i.url else None for i in items)
        matcher = matcher if matcher is not None else _worker_matcher
        if matcher is None:
            return Itemized(items=items, canonical_urls=canonical, notice=notice)
        from monitor.cluster import fingerprint

        stage = "match"
        matches = tuple(tuple(matcher.match(i)) for i in items)
        stage = "cluster"
        fingerprints = tuple(
            fingerprint(i.title, i.summary) if m else None
            for i, m in zip(items, matches, strict=True)
        )
    except Exception as exc:  # a bug of ours that this feed's content found: its failure only
        log.exception("internal error", extra={"feed": feed.name, "url": feed.url})
        return internal_failure(stage, exc)
    return Itemized(
        items=items,
        canonical_urls=canonical,
        matches=matches,
        fingerprints=fingerprints,
        notice=notice,
    )


def internal_failure(stage: str, exc: BaseException) -> Itemized:
    """A feed's failure that is our fault, not the feed's: kind `internal`, naming the stage
    and the exception (its traceback goes to the log where it was caught)."""
    return Itemized(
        error_kind="internal",
        error=f"internal error in {stage}: {type(exc).__name__}: {exc}",
        stage=stage,
    )


def capped(entries: list[T], limit: int = MAX_ITEMS) -> tuple[list[T], str | None]:
    """The first `limit` entries in document order, and a notice when more were dropped."""
    if len(entries) <= limit:
        return entries, None
    return entries[:limit], f"kept the first {limit:,} of {len(entries):,} items"


def init_worker(book: RuleBook | None) -> None:
    """Pool worker initializer: compile the pass's rules here (a few milliseconds; a
    compiled matcher does not pickle)."""
    global _worker_matcher
    collect_less_often()
    if book is not None:
        from monitor.match import Matcher

        _worker_matcher = Matcher(book)


def unique_items(items: Iterable[Item]) -> list[Item]:
    """Items with distinct keys: a GUID repeated in one document keeps every distinct item.

    The first item keeps the plain key; a later one with other content gets the key plus its
    content hash (stable from fetch to fetch); an exact repeat is dropped.
    """
    out: list[Item] = []
    seen: dict[str, set[str]] = {}
    keys: set[str] = set()
    for item in items:
        hashes = seen.setdefault(item.key, set())
        if item.content_hash in hashes:
            continue
        hashes.add(item.content_hash)
        key = item.key
        if key in keys:
            key = f"{item.key}#{item.content_hash[:16]}"
            if key in keys:
                continue
            item = replace(item, key=key)
        keys.add(key)
        out.append(item)
    return out
