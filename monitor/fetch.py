"""Fetching feeds over HTTP: one shared httpx.AsyncClient, bounded in every dimension.

Owns conditional GET (ETag, Last-Modified), the global and per-host concurrency limits,
the total deadline per fetch, the redirect cap and the decoded-size cap enforced while
streaming. Every outcome, failures included, is a `FetchResult`; nothing here raises for a
feed's fault, so one broken feed never stops a pass.
"""

from __future__ import annotations

import asyncio
import email.utils
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from urllib.parse import urljoin, urlsplit

import httpx

from monitor.models import FeedState, FetchResult
from monitor.settings import FetchConfig, feed_url_problem

REDIRECTS = {301, 302, 303, 307, 308}
ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, application/json;q=0.9, "
    "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
)


class _Refused(Exception):
    """A fetch stopped on purpose; `kind` is a stable label, the message is for people."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def make_client(cfg: FetchConfig) -> httpx.AsyncClient:
    """The one client of a pass: pooled connections, no automatic redirects (we check each hop)."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(cfg.timeout_seconds, connect=min(10.0, cfg.timeout_seconds)),
        follow_redirects=False,
        headers={"User-Agent": cfg.user_agent, "Accept": ACCEPT},
        limits=httpx.Limits(
            max_connections=cfg.concurrency, max_keepalive_connections=cfg.concurrency
        ),
        trust_env=False,
    )


async def fetch_all(
    feeds: Sequence[FeedState], cfg: FetchConfig, client: httpx.AsyncClient | None = None
) -> list[FetchResult]:
    """Fetch every feed concurrently, within the global and per-host limits."""
    own = client is None
    http = client or make_client(cfg)
    limiter = Limiter(cfg.concurrency, cfg.per_host)
    try:
        return list(await asyncio.gather(*(fetch_one(f, cfg, http, limiter) for f in feeds)))
    finally:
        if own:
            await http.aclose()


class Limiter:
    """A global semaphore plus one per host, so many feeds of one outlet do not hammer it."""

    def __init__(self, total: int, per_host: int) -> None:
        self.total = asyncio.Semaphore(total)
        self.per_host = per_host
        self.hosts: dict[str, asyncio.Semaphore] = defaultdict(
            lambda: asyncio.Semaphore(self.per_host)
        )

    def host(self, url: str) -> asyncio.Semaphore:
        return self.hosts[(urlsplit(url).hostname or "").lower()]


async def fetch_one(
    feed: FeedState, cfg: FetchConfig, client: httpx.AsyncClient, limiter: Limiter | None = None
) -> FetchResult:
    """Fetch one feed; the total deadline covers connecting, redirects and the whole body."""
    limiter = limiter or Limiter(cfg.concurrency, cfg.per_host)
    async with limiter.total, limiter.host(feed.url):
        try:
            return await asyncio.wait_for(_fetch(feed, cfg, client), timeout=cfg.timeout_seconds)
        except TimeoutError:
            return _failed(
                feed, "timeout", f"no complete response within {cfg.timeout_seconds:g} s"
            )
        except _Refused as exc:
            return _failed(feed, exc.kind, str(exc))
        except httpx.TimeoutException:
            return _failed(feed, "timeout", f"timed out after {cfg.timeout_seconds:g} s")
        except httpx.ConnectError as exc:
            return _failed(feed, "connect", f"cannot connect: {_reason(exc)}")
        except httpx.HTTPError as exc:
            return _failed(feed, "http", f"HTTP error: {_reason(exc)}")
        except OSError as exc:
            return _failed(feed, "connect", f"network error: {exc}")


async def _fetch(feed: FeedState, cfg: FetchConfig, client: httpx.AsyncClient) -> FetchResult:
    headers = {}
    if feed.etag:
        headers["If-None-Match"] = feed.etag
    if feed.last_modified:
        headers["If-Modified-Since"] = feed.last_modified
    url = feed.url
    permanent_url: str | None = None  # set while every hop so far was permanent
    all_permanent = True
    for _hop in range(cfg.max_redirects + 1):
        async with client.stream("GET", url, headers=headers) as resp:
            if resp.status_code in REDIRECTS:
                location = resp.headers.get("location")
                if not location:
                    raise _Refused("http", f"HTTP {resp.status_code} redirect without a Location")
                target = urljoin(url, location)
                problem = feed_url_problem(target)
                if problem:
                    raise _Refused("redirect", f"redirect to a refused URL: {problem}")
                all_permanent = all_permanent and resp.status_code in (301, 308)
                permanent_url = target if all_permanent else None
                url = target
                continue
            if resp.status_code == 304:
                return FetchResult(
                    feed,
                    304,
                    not_modified=True,
                    etag=feed.etag,
                    last_modified=feed.last_modified,
                    final_url=permanent_url,
                )
            if resp.status_code >= 400:
                retry = retry_after_seconds(resp.headers.get("retry-after"))
                kind = "gone" if resp.status_code == 410 else f"http_{resp.status_code // 100}xx"
                return FetchResult(
                    feed,
                    resp.status_code,
                    error=f"HTTP {resp.status_code} {resp.reason_phrase}".strip(),
                    error_kind=kind,
                    retry_after=retry,
                    final_url=permanent_url,
                )
            body = await _read_capped(resp, cfg.max_bytes)
            return FetchResult(
                feed,
                resp.status_code,
                body=body,
                content_type=resp.headers.get("content-type"),
                etag=resp.headers.get("etag"),
                last_modified=resp.headers.get("last-modified"),
                final_url=permanent_url,
            )
    raise _Refused("redirect", f"more than {cfg.max_redirects} redirects")


async def _read_capped(resp: httpx.Response, max_bytes: int) -> bytes:
    """The decoded body, stopping as soon as it passes `max_bytes` (a gzip bomb stops early)."""
    declared = resp.headers.get("content-length")
    encoding = resp.headers.get("content-encoding", "identity").lower().strip()
    if (
        declared
        and declared.isdigit()
        and int(declared) > max_bytes
        and encoding in ("", "identity")
    ):
        raise _Refused(
            "too_large", f"response too large: {int(declared)} bytes declared, cap {max_bytes}"
        )
    chunks: list[bytes] = []
    size = 0
    async for chunk in resp.aiter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise _Refused("too_large", f"response too large: over the cap of {max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds asked for by a Retry-After header (delta-seconds or HTTP-date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _failed(feed: FeedState, kind: str, message: str) -> FetchResult:
    return FetchResult(feed, None, error=message, error_kind=kind)


def _reason(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:300]
