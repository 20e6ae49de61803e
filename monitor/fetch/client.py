"""Fetching feeds over HTTP: one shared httpx.AsyncClient, bounded in every dimension.

Owns conditional GET (ETag, Last-Modified), the global and per-host concurrency limits with a
minimum spacing per host, the total deadline per fetch, the redirect cap, the refusal of
stacked or unknown Content-Encoding and the decoded-size cap enforced while streaming. Every
outcome, failures included, is a `FetchResult`; nothing here raises for a feed's fault, so
one broken feed never stops a pass. Where a connection may go is `safety`'s decision.
"""

from __future__ import annotations

import asyncio
import ssl
import time
import zlib
from collections import defaultdict
from collections.abc import Iterator, Sequence
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx

from monitor.fetch.headers import (
    ACCEPT_ENCODING,
    content_coding,
    encoding_problem,
    max_age_seconds,
    retry_after_seconds,
    validator,
)
from monitor.fetch.safety import GuardedBackend, parse_networks
from monitor.models import FeedState, FetchResult
from monitor.settings import FetchConfig, feed_url_problem

REDIRECTS = {301, 302, 303, 307, 308}
_UNABLE_TO_GET_ISSUER_CERT_LOCALLY = 20  # OpenSSL's X509_V_ERR_ code
ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, application/json;q=0.9, "
    "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
)
# Decoded bytes are taken from zlib at most this many at a time: one 64 KiB read of a gzip
# bomb inflates to some 64 MiB, so decoding a whole read before checking the cap is unsafe.
INFLATE_STEP = 256 * 1024


class _Refused(Exception):
    """A fetch stopped on purpose; `kind` is a stable label, the message is for people."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport over a connection pool whose network backend enforces the policy."""

    def __init__(self, cfg: FetchConfig, limits: httpx.Limits) -> None:
        # One SSL context (loading the CA bundle is most of a warm pass's fetch set-up), given
        # to httpx so that it does not build a second one for the pool replaced below.
        ssl_context = httpx.create_ssl_context(trust_env=False)
        super().__init__(verify=ssl_context, limits=limits, trust_env=False)
        # Same pool httpx would build, plus our backend (httpx has no public hook for it).
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedBackend(parse_networks(cfg.allow_networks)),
        )


def make_client(cfg: FetchConfig) -> httpx.AsyncClient:
    """The one client of a pass: pooled, guarded connections; redirects followed by hand."""
    limits = httpx.Limits(
        max_connections=cfg.concurrency, max_keepalive_connections=cfg.concurrency
    )
    return httpx.AsyncClient(
        timeout=httpx.Timeout(cfg.timeout_seconds, connect=min(10.0, cfg.timeout_seconds)),
        follow_redirects=False,
        headers={
            "User-Agent": cfg.user_agent,
            "Accept": ACCEPT,
            "Accept-Encoding": ACCEPT_ENCODING,  # what _Inflater decodes, whatever httpx could
        },
        transport=GuardedTransport(cfg, limits),
        trust_env=False,
    )


async def fetch_all(
    feeds: Sequence[FeedState], cfg: FetchConfig, client: httpx.AsyncClient | None = None
) -> list[FetchResult]:
    """Fetch every feed concurrently, within the global and per-host limits."""
    own = client is None
    http = client or make_client(cfg)
    limiter = Limiter(cfg.concurrency, cfg.per_host, cfg.per_host_spacing_seconds)
    try:
        return list(await asyncio.gather(*(fetch_one(f, cfg, http, limiter) for f in feeds)))
    finally:
        if own:
            await http.aclose()


class Limiter:
    """A global semaphore plus one per host, and a minimum spacing between starts per host,
    so that twenty feeds of one outlet do not hammer it."""

    def __init__(self, total: int, per_host: int, spacing: float = 0.0) -> None:
        self.total = asyncio.Semaphore(total)
        self.per_host = per_host
        self.spacing = spacing
        self.hosts: dict[str, asyncio.Semaphore] = defaultdict(
            lambda: asyncio.Semaphore(self.per_host)
        )
        self.next_start: dict[str, float] = {}

    @staticmethod
    def host_of(url: str) -> str:
        try:
            return (urlsplit(url).hostname or "").lower()
        except ValueError:
            return ""

    def host(self, url: str) -> asyncio.Semaphore:
        return self.hosts[self.host_of(url)]

    async def space(self, url: str) -> None:
        """Wait until this host's next start time, and book the one after it."""
        if self.spacing <= 0:
            return
        host = self.host_of(url)
        now = time.monotonic()
        start = max(now, self.next_start.get(host, 0.0))
        self.next_start[host] = start + self.spacing
        if start > now:
            await asyncio.sleep(start - now)


async def fetch_one(
    feed: FeedState, cfg: FetchConfig, client: httpx.AsyncClient, limiter: Limiter | None = None
) -> FetchResult:
    """Fetch one feed; the total deadline covers connecting, redirects and the whole body."""
    limiter = limiter or Limiter(cfg.concurrency, cfg.per_host, cfg.per_host_spacing_seconds)
    async with limiter.total, limiter.host(feed.url):
        await limiter.space(feed.url)
        try:
            async with asyncio.timeout(cfg.timeout_seconds):  # no task of its own, unlike wait_for
                return await _fetch(feed, cfg, client)
        except TimeoutError:
            return _failed(
                feed, "timeout", f"no complete response within {cfg.timeout_seconds:g} s"
            )
        except _Refused as exc:
            return _failed(feed, exc.kind, str(exc))
        except httpx.TimeoutException:
            return _failed(feed, "timeout", f"timed out after {cfg.timeout_seconds:g} s")
        except httpx.ConnectError as exc:
            tls = _certificate_problem(exc)
            if tls:
                return _failed(feed, "tls", f"the server's TLS certificate was not accepted: {tls}")
            kind = "refused" if "refused to connect" in str(exc) else "connect"
            return _failed(feed, kind, f"cannot connect: {_reason(exc)}")
        except httpx.DecodingError as exc:
            return _failed(feed, "decoding", f"the body could not be decompressed: {_reason(exc)}")
        except httpx.HTTPError as exc:
            return _failed(feed, "http", f"HTTP error: {_reason(exc)}")
        except (OSError, ValueError) as exc:
            return _failed(feed, "connect", f"network error: {_reason(exc)}")


async def _fetch(feed: FeedState, cfg: FetchConfig, client: httpx.AsyncClient) -> FetchResult:
    headers = {}
    # Checked again here: a database may hold a non-ASCII validator stored before they were.
    if etag := validator(feed.etag):
        headers["If-None-Match"] = etag
    if last_modified := validator(feed.last_modified):
        headers["If-Modified-Since"] = last_modified
    url = feed.url
    permanent_url: str | None = None  # set while every hop so far was permanent
    all_permanent = True
    for _hop in range(cfg.max_redirects + 1):
        async with client.stream("GET", url, headers=headers) as resp:
            if resp.status_code in REDIRECTS:
                location = resp.headers.get("location")
                if not location:
                    raise _Refused("http", f"HTTP {resp.status_code} redirect without a Location")
                target = urljoin(url, location.strip())
                problem = feed_url_problem(target)
                if problem:
                    raise _Refused("redirect", f"redirect to a refused URL: {problem}")
                all_permanent = all_permanent and resp.status_code in (301, 308)
                permanent_url = target if all_permanent else None
                url = target
                continue
            max_age = max_age_seconds(resp.headers.get("cache-control"))
            if resp.status_code == 304:
                # A 304 has no body; reading its end lets the connection be reused instead of
                # closed (most of a warm pass's requests, on a few connections per host).
                await resp.aread()
                return FetchResult(
                    feed,
                    304,
                    not_modified=True,
                    etag=validator(resp.headers.get("etag")) or feed.etag,
                    last_modified=validator(resp.headers.get("last-modified"))
                    or feed.last_modified,
                    final_url=permanent_url,
                    max_age=max_age,
                )
            if resp.status_code >= 400:
                return FetchResult(
                    feed,
                    resp.status_code,
                    error=_status_sentence(resp),
                    error_kind="gone" if resp.status_code == 410 else f"http_{resp.status_code}",
                    retry_after=retry_after_seconds(resp.headers.get("retry-after")),
                    final_url=permanent_url,
                    max_age=max_age,
                )
            if resp.status_code != 200:
                raise _Refused("http", f"unexpected HTTP {resp.status_code} (expected 200 or 304)")
            body = await _read_capped(resp, cfg.max_bytes)
            return FetchResult(
                feed,
                resp.status_code,
                body=body,
                content_type=resp.headers.get("content-type"),
                etag=validator(resp.headers.get("etag")),
                last_modified=validator(resp.headers.get("last-modified")),
                final_url=permanent_url,
                max_age=max_age,
            )
    raise _Refused(
        "redirect", f"too many redirects (more than {cfg.max_redirects}); last hop was {url}"
    )


def _status_sentence(resp: httpx.Response) -> str:
    status = f"HTTP {resp.status_code} {resp.reason_phrase}".strip()
    if resp.status_code == 410:
        return f"{status}: the server says this feed is gone for good"
    if resp.status_code in (429, 503) and resp.headers.get("retry-after"):
        return f"{status}: the server asked us to wait (Retry-After {resp.headers['retry-after']})"
    return status


async def _read_capped(resp: httpx.Response, max_bytes: int) -> bytes:
    """The decoded body, stopping as soon as it passes `max_bytes` (a gzip bomb stops early).

    The body is read raw and decoded here, in steps of at most INFLATE_STEP bytes checked
    against the cap one by one: httpx's own decoders inflate each read whole.
    """
    problem = encoding_problem(resp.headers.get("content-encoding"))
    if problem:
        raise _Refused("encoding", problem)
    declared = resp.headers.get("content-length", "").strip()
    coding = content_coding(resp.headers.get("content-encoding"))
    if (
        declared.isascii()
        and declared.isdigit()
        and int(declared) > max_bytes
        and coding == "identity"
    ):
        raise _Refused(
            "too_large", f"response too large: {int(declared)} bytes declared, cap {max_bytes}"
        )
    inflater = None if coding == "identity" else _Inflater(coding)
    chunks: list[bytes] = []
    size = 0
    async for raw in resp.aiter_raw():
        for chunk in inflater.decode(raw) if inflater else (raw,):
            size += len(chunk)
            if size > max_bytes:
                raise _Refused(
                    "too_large", f"response too large: over the cap of {max_bytes} bytes"
                )
            chunks.append(chunk)
    return b"".join(chunks)


class _Inflater:
    """A gzip or deflate body decoded in pieces of at most INFLATE_STEP bytes.

    As httpx's decoders do, "deflate" is read as a zlib stream, or as raw deflate when its
    first bytes are not one (some servers send that); a missing end is not an error.
    """

    def __init__(self, coding: str) -> None:
        self.coding = coding
        self.zlib = zlib.decompressobj(zlib.MAX_WBITS | 16 if coding == "gzip" else zlib.MAX_WBITS)
        self.started = False

    def decode(self, data: bytes) -> Iterator[bytes]:
        while True:
            try:
                out = self.zlib.decompress(data, INFLATE_STEP)
            except zlib.error as exc:
                if self.coding == "deflate" and not self.started:
                    self.started = True
                    self.zlib = zlib.decompressobj(-zlib.MAX_WBITS)
                    continue
                raise _Refused(
                    "decoding", f"the body could not be decompressed: {_reason(exc)}"
                ) from None
            self.started = True
            # What did not fit in this step waits in unconsumed_tail; output may also be
            # pending with all input taken, so ask again until a step yields nothing.
            data = self.zlib.unconsumed_tail
            if not out:
                return
            yield out


def _failed(feed: FeedState, kind: str, message: str) -> FetchResult:
    return FetchResult(feed, None, error=message, error_kind=kind)


def _certificate_problem(exc: BaseException) -> str | None:
    """Why certificate verification failed, when that is what lies under a connect error."""
    cause: BaseException | None = exc
    for _ in range(8):  # httpx's error is caused by httpcore's, caused by the ssl module's
        if cause is None:
            return None
        if isinstance(cause, ssl.SSLCertVerificationError):
            reason = str(cause.verify_message or cause.reason or "verification failed")
            if cause.verify_code == _UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
                # Browsers fetch a missing intermediate certificate; Python's TLS does not.
                reason += " (the server may not be sending its intermediate certificate)"
            return reason
        cause = cause.__cause__ or cause.__context__
    return None


def _reason(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:300]
