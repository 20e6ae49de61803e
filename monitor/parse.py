"""Parsing feed bytes (RSS, Atom, JSON Feed) into raw entries shaped like feedparser's.

feedparser is the reference parser. Well-formed RSS 2.0 and Atom 1.0 that `monitor.fastparse`
can vouch for are read there with lxml, about ten times faster, to the same items; everything
else (and everything `parse_feed_reference` is given) goes through feedparser. Parsers are
only ever handed bytes, never a URL or a path, so a body that happens to be a path or URL is
parsed as text and fails as a feed. XML that declares entities is refused before parsing
(billion laughs, external entities). Feedparser runs lean: we never render feed HTML, so its
sanitizer and relative-URI pass are skipped and `normalize` extracts and escapes the text
itself.
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import feedparser

from monitor.errors import FeedError
from monitor.normalize import plausible_date

# Entity declarations and internal DTD subsets anywhere in the document, in every encoding an
# XML parser detects without a declaration (UTF-8 and ASCII supersets, UTF-16, UTF-32).
_CODECS = ("utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be")
_ENTITY_PATTERNS = tuple(
    re.compile(b"".join(re.escape(c.encode(codec)) for c in "<!ENTITY"), re.IGNORECASE)
    for codec in ("ascii", *_CODECS)
)
_INTERNAL_SUBSET = re.compile(rb"<!DOCTYPE[^>\[]*\[", re.IGNORECASE)
_WIDE_DOCTYPE = tuple("<!DOCTYPE".encode(codec) for codec in _CODECS)


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    title: str
    entries: list[dict[str, Any]]


def parse_feed(body: bytes, url: str, content_type: str | None = None) -> ParsedFeed:
    """Parse a feed document; raise FeedError when it is refused or is not a feed."""
    return _parse(body, url, content_type, fast=True)


def parse_feed_reference(body: bytes, url: str, content_type: str | None = None) -> ParsedFeed:
    """`parse_feed` without the fast path: feedparser for all XML (tests and benchmarks)."""
    return _parse(body, url, content_type, fast=False)


def _parse(body: bytes, url: str, content_type: str | None, *, fast: bool) -> ParsedFeed:
    if refused_xml(body):
        raise FeedError(url, "entities", "entity declarations are not allowed in feeds")
    if body.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{"):
        return parse_json_feed(body, url)
    if fast:
        parsed = _fast(body, url, content_type)
        if parsed is not None:
            return parsed
    return _feedparser(body, url, content_type)


def _fast(body: bytes, url: str, content_type: str | None) -> ParsedFeed | None:
    try:  # it imports this module, so not at the top
        from monitor.fastparse import fast_parse
    except (ImportError, AttributeError):
        # The fast path reads feedparser's own tables; a feedparser release that moved them
        # costs speed, never a feed (and fails the equivalence tests' coverage checks).
        return None
    return fast_parse(body, url, content_type)


def _feedparser(body: bytes, url: str, content_type: str | None) -> ParsedFeed:
    headers = {"content-location": url}
    if content_type:
        headers["content-type"] = content_type
    # A file object, never bytes or text: feedparser would treat a string as a URL or path.
    try:
        parsed = feedparser.parse(
            io.BytesIO(body),
            response_headers=headers,
            sanitize_html=False,
            resolve_relative_uris=False,
        )
    except Exception as exc:  # hostile bytes can trip feedparser itself (found by fuzzing)
        detail = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise FeedError(url, "parse", f"not a feed: the parser failed ({detail})") from None
    entries = list(parsed.get("entries") or [])
    version = parsed.get("version") or ""
    if not entries and not version:
        if _looks_like_html(body):  # a moved feed's home page, a login or bot-check page
            raise FeedError(
                url, "parse", "not a feed: the server sent a web page (HTML), not RSS or Atom"
            )
        cause = parsed.get("bozo_exception")
        detail = f": {str(cause).splitlines()[0][:200]}" if cause else ""
        raise FeedError(url, "parse", f"not a feed (no RSS, Atom or JSON Feed found){detail}")
    title = str(parsed.get("feed", {}).get("title") or "")
    return ParsedFeed(title=title, entries=entries)


def _looks_like_html(body: bytes) -> bool:
    head = body[:256].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith((b"<!doctype html", b"<html"))


def refused_xml(body: bytes) -> bool:
    """True when the document declares entities or has an internal DTD subset."""
    if any(p.search(body) for p in _ENTITY_PATTERNS) or _INTERNAL_SUBSET.search(body):
        return True
    # An internal subset in a wide encoding: decode just enough to look at the DOCTYPE.
    for codec, marker in zip(_CODECS, _WIDE_DOCTYPE, strict=True):
        at = body.find(marker)
        if at >= 0 and at % (len(marker) // 9) == 0:
            head = body[at : at + 4096 * len(marker) // 9].decode(codec, "ignore")
            if _INTERNAL_SUBSET.search(head.encode("utf-8", "ignore")):
                return True
    return False


def parse_json_feed(body: bytes, url: str) -> ParsedFeed:
    """A JSON Feed (jsonfeed.org, versions 1 and 1.1) as entries shaped like feedparser's."""
    try:
        doc = json.loads(body.decode("utf-8-sig"))
    except RecursionError:  # arrays or objects nested deeper than the interpreter's limit
        raise FeedError(url, "parse", "not a feed: JSON nested too deeply to read") from None
    except ValueError as exc:  # invalid JSON or UTF-8, or an integer of over 4,300 digits
        detail = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise FeedError(url, "parse", f"not a feed: invalid JSON ({detail})") from None
    if not isinstance(doc, dict) or not str(doc.get("version", "")).startswith(
        "https://jsonfeed.org/"
    ):
        raise FeedError(url, "parse", "not a feed: JSON without a jsonfeed.org version")
    items = doc.get("items")
    if not isinstance(items, list):
        raise FeedError(url, "parse", "not a feed: JSON Feed without an items list")
    entries = [_json_entry(it) for it in items if isinstance(it, dict)]
    return ParsedFeed(title=str(doc.get("title") or ""), entries=entries)


def _json_entry(item: dict[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": _str(item.get("id")),
        "link": _str(item.get("url")),
        "title": _str(item.get("title")),
        "summary": _str(item.get("summary"))
        or _str(item.get("content_text"))
        or _str(item.get("content_html")),
    }
    for src, dst in (("date_published", "published_parsed"), ("date_modified", "updated_parsed")):
        when = _json_date(item.get(src))
        if when is not None:
            entry[dst] = when
    return entry


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _json_date(value: Any) -> Any:
    """An RFC 3339 date as a UTC struct_time (the shape feedparser gives), or None when it
    is not one or not plausible (year 9999 minus an hour is past what UTC conversion holds)."""
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None or not plausible_date(when, datetime.now(UTC)):
        return None
    return when.utctimetuple()
