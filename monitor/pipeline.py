"""One poll pass, end to end: the only module that knows the order of the stages.

due feeds (store) → fetch (concurrent, bounded) → parse + normalize + match + fingerprint (a
process pool, off the event loop) → store and place into stories (one short transaction per
feed). Feeds flow through one at a time, so at most a few bodies are held at once.
`monitor check` and the daemon call `poll`.
Per-feed failures are results, recorded on the feed; they never stop the pass.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import heapq
import logging
import os
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Executor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import httpx

from monitor import sources
from monitor.fetch import Limiter, fetch_one, make_client
from monitor.itemize import Itemized, init_worker, internal_failure, itemize
from monitor.match import Matcher, RuleBook
from monitor.models import (
    FeedFailure,
    FeedState,
    FetchResult,
    Item,
    Match,
    NewMatch,
    PassReport,
)
from monitor.owners import died_here, lease_owner
from monitor.settings import Settings
from monitor.store import FetchOutcome, NewItem, Store
from monitor.workers import WorkerPool

log = logging.getLogger(__name__)

# Called as each feed of a pass is done: (new items, new matching items, failed).
Progress = Callable[[int, int, bool], None]

# Below this many feeds in a pass, starting worker processes costs more than it saves.
POOL_MIN_FEEDS = 8
# Unchanged feeds' outcomes are written this many to a transaction, and none waits longer
# than UNCHANGED_WAIT seconds. Until written, such a feed keeps its lease and its old
# schedule: a pass that dies first leaves it due, and the wait is bounded so that writing
# the outcome (which releases the feed) does not come later than the lease allows.
UNCHANGED_BATCH = 50
UNCHANGED_WAIT = 1.0


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
    listed: int = 50,
    progress: Progress | None = None,
) -> PassReport:
    """Run one pass over the due feeds and return what it did.

    `progress`, when given, is called as each feed is done, with its new items, its new
    matching items and whether it failed (`monitor check`'s progress bar).

    The report counts every new matching item and lists the newest `listed` of each topic
    (`_Listing`). When `stop` is set (the daemon is shutting down), fetches in flight are
    abandoned and the feeds they were for stay due; what was already fetched is still
    written.
    """
    now = now or datetime.now(UTC)
    store.cluster_settings = settings.stories  # the story rule add_items applies
    pool = _LazyPool(parse_workers(settings), matcher.book)
    listing = _Listing(listed, progress)  # the listing carries `progress` to each _Pass
    try:
        if dry_run:
            feeds = store.due_feeds(now, names=names, ignore_schedule=ignore_schedule)
            report = _run(
                settings, store, matcher, now, feeds, pool, listing, dry_run=True, stop=stop
            )
        else:
            with store.story_pass():
                report = _poll_leased(
                    settings, store, matcher, now, pool, listing, names, ignore_schedule, stop
                )
        return replace(report, matched=listing.items())
    finally:
        pool.close()


def _poll_leased(
    settings: Settings,
    store: Store,
    matcher: Matcher,
    now: datetime,
    pool: _LazyPool,
    listing: _Listing,
    names: Iterable[str] | None,
    ignore_schedule: bool,
    stop: threading.Event | None,
) -> PassReport:
    # Several daemons (and `monitor check`) may share one database: lease the feeds this pass
    # takes, so no other process fetches them meanwhile; a lease left by a crash expires.
    owner = lease_owner()
    lease = timedelta(seconds=settings.daemon.lease_seconds)
    for dead in filter(died_here, store.lease_owners()):
        store.release_feeds(dead)  # a process of this machine was killed mid-pass
    if names is not None or ignore_schedule:  # a manual run: everything asked for, at once
        batch, limit = None, None
    else:  # small batches, so daemons sharing a database share the due feeds
        batch = limit = max(4 * settings.fetch.concurrency, 32)
    reports: list[PassReport] = []
    done: set[int] = set()
    try:
        while not (stop is not None and stop.is_set()):
            feeds = store.claim_feeds(
                owner,
                now,
                lease,
                names=names,
                ignore_schedule=ignore_schedule,
                limit=limit,
                exclude=done,
                # The lease counts from this claim, not from the pass's start: a batch
                # claimed late in a long pass would get a lease that had already expired.
                # What is due is still judged at `now`, from which the pass schedules.
                claimed_at=datetime.now(UTC),
            )
            if not feeds:
                break
            done.update(f.id for f in feeds)
            reports.append(
                _run(settings, store, matcher, now, feeds, pool, listing, dry_run=False, stop=stop)
            )
            if batch is None or len(feeds) < batch:
                break
    finally:
        store.release_feeds(owner)  # what the pass did not finish stays due
    return _merge(reports)


def parse_workers(settings: Settings) -> int:
    """Worker processes for parsing; 0 means parse in a thread of the pass's process.

    By default one per core but one: the pass's own process is the busiest of all (it
    stores every item and places matching ones into stories), so on two cores one worker
    keeps up with it, and each worker is another 30 MiB or so.
    """
    return settings.fetch.parse_workers or (os.cpu_count() or 1) - 1


def _merge(reports: list[PassReport]) -> PassReport:
    return PassReport(
        feeds_polled=sum(r.feeds_polled for r in reports),
        new_items=sum(r.new_items for r in reports),
        new_matches=sum(r.new_matches for r in reports),
        failures=tuple(f for r in reports for f in r.failures),
        not_modified=sum(r.not_modified for r in reports),
        notices=tuple(n for r in reports for n in r.notices),
    )


def _run(
    settings: Settings,
    store: Store,
    matcher: Matcher,
    now: datetime,
    feeds: list[FeedState],
    pool: _LazyPool,
    listing: _Listing,
    *,
    dry_run: bool,
    stop: threading.Event | None,
) -> PassReport:
    if not feeds:
        return PassReport()
    # The per-host limit is shared by the daemons that poll together: each takes its share.
    sharing = store.live_daemons(now, timedelta(seconds=3 * settings.daemon.poll_seconds + 60))
    if sharing > 1:
        fetch = replace(settings.fetch, per_host=max(1, settings.fetch.per_host // sharing))
        settings = replace(settings, fetch=fetch)
    run = _Pass(settings, store, matcher, now, dry_run, listing, stop, pool)
    asyncio.run(run.all(feeds))
    return run.report()


@dataclass
class _Pass:
    settings: Settings
    store: Store
    matcher: Matcher
    now: datetime
    dry_run: bool
    listing: _Listing
    stop: threading.Event | None = None
    pools: _LazyPool | None = None
    failures: list[FeedFailure] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    polled: int = 0
    new_items: int = 0
    new_matches: int = 0
    not_modified: int = 0
    # Outcomes of unchanged feeds not yet written, and the timer that writes them.
    unchanged: list[tuple[int, FetchOutcome]] = field(default_factory=list)
    unchanged_timer: asyncio.TimerHandle | None = None

    async def all(self, feeds: list[FeedState]) -> None:
        cfg = self.settings.fetch
        workers = parse_workers(self.settings)
        pool = self.pools if workers > 0 and len(feeds) >= POOL_MIN_FEEDS else None
        # Bodies in flight (fetched, not yet stored) are bounded by this gate.
        gate = asyncio.Semaphore(max(cfg.concurrency, 2 * workers))
        limiter = Limiter(cfg.concurrency, cfg.per_host, cfg.per_host_spacing_seconds)
        async with contextlib.AsyncExitStack() as stack:
            # One client, so one connection pool, per address policy: a connection opened
            # for a feed allowed a private network is never reused by a feed that is not.
            clients: dict[tuple[str, ...], httpx.AsyncClient] = {}

            async def client_for(feed: FeedState) -> httpx.AsyncClient:
                allow = self.settings.allow_networks(feed.name)
                if allow not in clients:
                    own = make_client(replace(cfg, allow_networks=allow))
                    clients[allow] = await stack.enter_async_context(own)
                return clients[allow]

            async def one(feed: FeedState) -> None:
                async with gate:
                    stage, before = "fetch", None
                    try:
                        client = await client_for(feed)
                        result = await fetch_one(feed, cfg, client, limiter)
                        stage = "parse"
                        itemized, body_hash = await self._itemize(result, pool)
                        stage = "store"
                        # Counted from here: storing does not await, so no other feed's
                        # results land in between.
                        before = self._counts()
                        self._store(result, itemized, body_hash)
                    except Exception as exc:  # one feed's fault never stops the pass
                        log.exception("internal error", extra={"feed": feed.name, "url": feed.url})
                        before = before or self._counts()
                        self._fail(feed, internal_failure(stage, exc), None)
                    self.polled += 1
                    if self.listing.progress is not None:
                        items, matches, failures = self._counts()
                        self.listing.progress(
                            items - before[0], matches - before[1], failures > before[2]
                        )

            try:
                await self._until_stopped(asyncio.gather(*(one(f) for f in feeds)))
            finally:
                self._flush_unchanged()

    def _counts(self) -> tuple[int, int, int]:
        """New items, new matches and failures so far, for the progress of one feed."""
        return self.new_items, self.new_matches, len(self.failures)

    async def _until_stopped(self, work: asyncio.Future[list[None]]) -> None:
        """Wait for the pass; when `stop` is set, abandon what is in flight (it stays due)."""
        while not work.done():
            if self.stop is not None and self.stop.is_set():
                work.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await work
                return
            await asyncio.wait({work}, timeout=0.2)
        work.result()

    async def _itemize(
        self, result: FetchResult, pool: _LazyPool | None
    ) -> tuple[Itemized | None, str | None]:
        """Items of a changed body; None when unchanged (304, or the same body hash)."""
        feed = result.feed
        if not result.ok:
            return Itemized(error_kind=result.error_kind, error=result.error), None
        if result.not_modified or result.body is None:
            return None, feed.body_hash
        body_hash = hashlib.sha256(result.body).hexdigest()
        if body_hash == feed.body_hash:
            return None, body_hash  # validators changed but the body did not: same as a 304
        loop = asyncio.get_running_loop()
        args = (result.body, feed, result.content_type, self.now)
        if pool is None:
            return await asyncio.to_thread(itemize, *args, self.matcher), body_hash
        try:
            return await loop.run_in_executor(pool.get(), itemize, *args), body_hash
        except BrokenProcessPool:  # the next body gets a new worker
            return Itemized(error_kind="parse", error="the parser process died on this feed"), None

    def _store(self, result: FetchResult, itemized: Itemized | None, body_hash: str | None) -> None:
        feed, now = result.feed, self.now
        interval: float = feed.interval_minutes or self.settings.fetch.interval_minutes
        if itemized is not None and itemized.error is not None:
            self._fail(feed, itemized, result)
            return
        if itemized is None:
            self.not_modified += 1
        elif itemized.notice:
            notice = f"feed {feed.name!r}: {itemized.notice}"
            log.warning("%s", notice, extra={"feed": feed.name, "url": feed.url})
            self.notices.append(notice)
        # None: unchanged, nothing to store. The pool worked out each item's canonical URL,
        # its matches and, for a matching item, its story fingerprint.
        found = itemized or Itemized()
        decided = [
            NewItem(item, url, matches, fp)
            for item, url, matches, fp in zip(
                found.items, found.canonical_urls, found.matches, found.fingerprints, strict=True
            )
        ]
        added = self.store.new_only(decided) if self.dry_run else self.store.add_items(decided)
        self.new_items += len(added)
        for n in added:
            if n.matches:
                self.new_matches += 1
                self.listing.add(n.item, n.matches)
        if self.dry_run:
            return
        outcome = FetchOutcome(
            checked=now,
            next_check=sources.next_check(now, interval, max_age=result.max_age),
            ok=True,
            etag=result.etag,
            last_modified=result.last_modified,
            body_hash=body_hash,
        )
        moved_to = result.final_url if result.final_url != feed.url else None
        if itemized is None and not moved_to:
            self.unchanged.append((feed.id, outcome))
            if len(self.unchanged) >= UNCHANGED_BATCH:
                self._flush_unchanged()
            elif self.unchanged_timer is None:
                loop = asyncio.get_running_loop()
                self.unchanged_timer = loop.call_later(UNCHANGED_WAIT, self._flush_unchanged)
            return
        self.store.record_fetch(feed.id, outcome)
        if moved_to:
            notice = self.store.move_feed(feed.id, moved_to, now)
            if notice:
                log.warning("%s", notice)
                self.notices.append(notice)

    def _flush_unchanged(self) -> None:
        if self.unchanged_timer is not None:
            self.unchanged_timer.cancel()
            self.unchanged_timer = None
        if self.unchanged:
            self.store.record_fetches(self.unchanged)
            self.unchanged.clear()

    def _fail(self, feed: FeedState, failed: Itemized, result: FetchResult | None) -> None:
        """Record a feed's failure: in the report, and on the feed with its backoff.

        `result` is None when the fetch itself raised. A failure that cannot be recorded
        (the database is down) is logged; the feed stays due and the pass goes on.
        """
        message, kind = failed.error or "failed", failed.error_kind or "error"
        log.warning("feed failed", extra={"feed": feed.name, "url": feed.url, "error": message})
        self.failures.append(FeedFailure(feed.name, feed.url, message, kind, failed.stage))
        if self.dry_run:
            return
        cfg = self.settings.fetch
        outcome = FetchOutcome(
            checked=self.now,
            ok=False,
            error=message,
            gone=result is not None and result.status == 410,
            next_check=sources.next_check(
                self.now,
                feed.interval_minutes or cfg.interval_minutes,
                error_streak=feed.error_streak + 1,
                max_backoff_hours=cfg.max_backoff_hours,
                retry_after=result.retry_after if result is not None else None,
            ),
        )
        try:
            self.store.record_fetch(feed.id, outcome)
        except Exception:
            log.exception("could not record the failure", extra={"feed": feed.name})

    def report(self) -> PassReport:
        return PassReport(
            feeds_polled=self.polled,
            new_items=self.new_items,
            new_matches=self.new_matches,
            failures=tuple(self.failures),
            not_modified=self.not_modified,
            notices=tuple(self.notices),
        )


class _Listing:
    """The new matching items a pass report lists: the newest `size` of each topic (that of
    an item's first match, as `monitor check` groups them), so that a first pass over
    hundreds of feeds does not hold thousands of articles until it ends. Kept without
    summaries and spans: the report shows title, outlet, time and topics."""

    def __init__(self, size: int, progress: Progress | None = None) -> None:
        self.size = size
        self.progress = progress
        self._added = 0
        # By topic, a heap of (time, order added, item): the oldest at the top, to go first.
        self._newest: dict[str, list[tuple[float, int, NewMatch]]] = {}

    def add(self, item: Item, matches: tuple[Match, ...]) -> None:
        if self.size <= 0:
            return
        self._added += 1
        heap = self._newest.setdefault(matches[0].topic, [])
        when = (item.published or item.fetched).timestamp()
        if len(heap) >= self.size and when < heap[0][0]:
            return  # older than every item kept for its topic: never listed
        listed = NewMatch(replace(item, summary=""), tuple(replace(m, spans=()) for m in matches))
        entry = (when, self._added, listed)
        if len(heap) < self.size:
            heapq.heappush(heap, entry)
        else:
            heapq.heapreplace(heap, entry)

    def items(self) -> tuple[NewMatch, ...]:
        return tuple(nm for heap in self._newest.values() for _, _, nm in heap)


class _LazyPool:
    """The parse pool of one poll: made when the first changed body needs parsing (a pass
    of unchanged feeds starts no process), shared by the poll's lease batches (a daemon's
    scheduled pass runs one batch per 32 feeds)."""

    def __init__(self, workers: int, book: RuleBook | None = None) -> None:
        self.workers = workers
        self.book = book
        self._pool: Executor | None = None

    def get(self) -> Executor:
        if self._pool is None:
            self._pool = _process_pool(self.workers, self.book)
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def _process_pool(workers: int, book: RuleBook | None = None) -> Executor:
    """Worker processes that import only the parsing modules and compile the rules."""
    return WorkerPool(workers, initializer=init_worker, initargs=(book,))
