"""One poll pass, end to end: the only module that knows the order of the stages.

due feeds (store) → fetch (concurrent) → parse → normalize → match → store (one short
transaction per feed). `monitor check` and the daemon call the same `poll`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import threading
from collections.abc import Iterable
from datetime import UTC, datetime

from monitor import sources
from monitor.canonical import canonical_url
from monitor.errors import FeedError
from monitor.fetch import fetch_all
from monitor.match import Matcher
from monitor.models import FeedFailure, FeedState, FetchResult, Item, NewMatch, PassReport
from monitor.normalize import normalize
from monitor.parse import parse_feed
from monitor.settings import Settings
from monitor.store import FetchOutcome, NewItem, Store

log = logging.getLogger(__name__)


def poll(
    settings: Settings,
    store: Store,
    matcher: Matcher,
    *,
    names: Iterable[str] | None = None,
    ignore_schedule: bool = False,
    dry_run: bool = False,
    now: datetime | None = None,
    stop: threading.Event | None = None,
) -> PassReport:
    """Run one pass over the due feeds and return what it did.

    When `stop` is set (the daemon is shutting down), fetches in flight are abandoned and the
    feeds they were for stay due; what was already fetched is still written.
    """
    now = now or datetime.now(UTC)
    feeds = store.due_feeds(now, names=names, ignore_schedule=ignore_schedule)
    results = asyncio.run(_fetch_until_stopped(feeds, settings, stop)) if feeds else []
    intervals = store.feed_intervals()
    failures: list[FeedFailure] = []
    matched: list[NewMatch] = []
    new_items = not_modified = 0
    for result in results:
        feed = result.feed
        interval = intervals.get(feed.id) or settings.fetch.interval_minutes
        try:
            items, body_hash = _items_of(result, now)
        except FeedError as exc:
            log.warning(
                "feed failed", extra={"feed": feed.name, "url": feed.url, "error": exc.message}
            )
            failures.append(FeedFailure(feed.name, feed.url, exc.message, exc.kind))
            if not dry_run:
                store.record_fetch(feed.id, _failure(result, exc.message, now, interval, settings))
            continue
        if items is None:
            not_modified += 1
        decided = [
            NewItem(i, canonical_url(i.url) if i.url else None, tuple(matcher.match(i)))
            for i in items or ()
        ]
        added = store.new_only(decided) if dry_run else store.add_items(decided)
        new_items += len(added)
        matched.extend(NewMatch(n.item, n.matches) for n in added if n.matches)
        if not dry_run:
            store.record_fetch(
                feed.id,
                FetchOutcome(
                    checked=now,
                    next_check=sources.next_check(now, interval),
                    ok=True,
                    etag=result.etag,
                    last_modified=result.last_modified,
                    body_hash=body_hash,
                ),
            )
    return PassReport(
        feeds_polled=len(results),
        new_items=new_items,
        new_matches=len(matched),
        matched=tuple(matched),
        failures=tuple(failures),
        not_modified=not_modified,
    )


async def _fetch_until_stopped(
    feeds: list[FeedState], settings: Settings, stop: threading.Event | None
) -> list[FetchResult]:
    task = asyncio.ensure_future(fetch_all(feeds, settings.fetch))
    while not task.done():
        if stop is not None and stop.is_set():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            return []
        await asyncio.wait({task}, timeout=0.2)
    return task.result()


def _items_of(result: FetchResult, now: datetime) -> tuple[list[Item] | None, str | None]:
    """The items of a fetched feed, or None when it has not changed; raise FeedError on failure."""
    feed = result.feed
    if not result.ok:
        raise FeedError(feed.url, result.error_kind or "error", result.error or "fetch failed")
    if result.not_modified or result.body is None:
        return None, feed.body_hash
    body_hash = hashlib.sha256(result.body).hexdigest()
    if body_hash == feed.body_hash:
        return None, body_hash  # validators changed but the body did not: same as a 304
    parsed = parse_feed(result.body, feed.url, result.content_type)
    seen: set[str] = set()
    items = []
    for entry in parsed.entries:
        item = normalize(entry, feed, now)
        if item.key not in seen:  # one document may repeat a GUID: keep its first item
            seen.add(item.key)
            items.append(item)
    return items, body_hash


def _failure(
    result: FetchResult, message: str, now: datetime, interval: float, settings: Settings
) -> FetchOutcome:
    return FetchOutcome(
        checked=now,
        ok=False,
        error=message,
        gone=result.status == 410,
        next_check=sources.next_check(
            now,
            interval,
            error_streak=result.feed.error_streak + 1,
            max_backoff_hours=settings.fetch.max_backoff_hours,
            retry_after=result.retry_after,
        ),
    )
