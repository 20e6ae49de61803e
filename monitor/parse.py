"""Parsing feed bytes (RSS, Atom, JSON Feed) into raw entries shaped like feedparser's.

feedparser is the reference parser. Well-formed RSS 2.0 and Atom 1.0 that `monitor.fastparse`
can vouch for are read there with lxml, about ten times faster, to the same items; everything
else (and everything `parse_feed_reference` is given) goes through feedparser. Parsers are
only ever handed bytes, never a URL or a path, so a body that happens to be a path or URL is
parsed as text and fails as a feed. XML that declares entities is refused before parsing
(billion laughs, external entities), in its bytes and again in the text feedparser would
decode from them, and so is an encoding that is not ASCII-compatible (UTF-7, EBCDIC) unless
the first bytes announce UTF-16 or UTF-32. Feedparser runs lean: we never render feed
HTML, so its sanitizer and relative-URI pass are skipped and `normalize` extracts and
escapes the text itself.
"""

from __future__ import annotations

import codecs
import functools
import io
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import feedparser
from feedparser.encodings import convert_to_utf8

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
    try:
        refusal = decoded_refusal(body, headers)
    except Exception as exc:  # feedparser.parse would fail on these bytes the same way
        raise FeedError(
            url, "parse", f"not a feed: the parser failed ({_first_line(exc)})"
        ) from None
    if refusal:
        raise FeedError(url, *refusal)
    # A file object, never bytes or text: feedparser would treat a string as a URL or path.
    try:
        parsed = feedparser.parse(
            io.BytesIO(body),
            response_headers=headers,
            sanitize_html=False,
            resolve_relative_uris=False,
        )
    except Exception as exc:  # hostile bytes can trip feedparser itself (found by fuzzing)
        raise FeedError(
            url, "parse", f"not a feed: the parser failed ({_first_line(exc)})"
        ) from None
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


def decoded_refusal(body: bytes, headers: dict[str, str]) -> tuple[str, str] | None:
    """(kind, message) when the text feedparser would read from `body` is refused, else None.

    The byte patterns of `refused_xml` see only encodings that spell `<!ENTITY` in ASCII or
    UTF-16/32 bytes; in UTF-7, EBCDIC and the like markup hides in other bytes. So the body is
    decoded exactly as feedparser will decode it (its own `convert_to_utf8`, from these
    headers, the BOM and the XML declaration); an encoding that is not ASCII-compatible is
    refused unless it is UTF-16 or UTF-32 announced by the document's first bytes, and the
    decoded text is checked for entity declarations and internal DTD subsets.
    """
    result: dict[str, Any] = {}
    text = convert_to_utf8(headers, body, result)
    encoding = str(result.get("encoding") or "")
    if encoding and not (_ascii_compatible(encoding) or _unicode_announced(body, encoding)):
        return "parse", (
            f"not a feed: encoding {encoding[:40]!r} refused (only ASCII-compatible encodings, "
            "and UTF-16 or UTF-32 announced by the first bytes, are read)"
        )
    if refused_xml(text):
        return "entities", "entity declarations are not allowed in feeds"
    return None


# Every printable ASCII byte, and a UTF-7 shift ("+ADw-" is "<" in UTF-7).
_ASCII_PROBE = bytes(range(0x20, 0x7F)) + b"\t\n\r+ADw-"


@functools.lru_cache(maxsize=64)
def _ascii_compatible(encoding: str) -> bool:
    """Whether ASCII bytes decode to the same text in `encoding` (never true of UTF-7)."""
    try:
        return _ASCII_PROBE.decode(encoding) == _ASCII_PROBE.decode("ascii")
    except (LookupError, UnicodeError, ValueError):
        return False


def _unicode_announced(body: bytes, encoding: str) -> bool:
    """Whether `encoding` is UTF-16 or UTF-32 and `body` announces it in its first bytes: a
    byte order mark, or `<?` (of the XML declaration) in that encoding (XML 1.0, appendix F)."""
    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        return False
    return body.startswith(_ANNOUNCED.get(name, ()))


_LE16, _BE16 = (codecs.BOM_UTF16_LE, b"<\0?\0"), (codecs.BOM_UTF16_BE, b"\0<\0?")
_LE32, _BE32 = (codecs.BOM_UTF32_LE, b"<\0\0\0?\0\0\0"), (codecs.BOM_UTF32_BE, b"\0\0\0<\0\0\0?")
_ANNOUNCED = {
    "utf-16-le": _LE16,
    "utf-16-be": _BE16,
    "utf-16": _LE16 + _BE16,
    "utf-32-le": _LE32,
    "utf-32-be": _BE32,
    "utf-32": _LE32 + _BE32,
}


def _first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__


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
