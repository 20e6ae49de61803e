"""Turning raw feed entries into `Item`s: identity key, canonical URL, plain text, UTC dates.

Text is extracted from whatever markup a feed carries (with lexbor via selectolax: fast, and
an HTML5 parser, so it reads markup as browsers do) and stored as plain text (valid UTF-8, no
NUL or control characters, no tags); rendering escapes it again, so no feed markup is ever
active downstream. Dates that are missing or implausible (`plausible_date`) are no date, and
the fetch time stands in for them.
"""

from __future__ import annotations

import calendar
import hashlib
import html
import re
import unicodedata
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from selectolax.lexbor import LexborHTMLParser

from monitor.canonical import canonical_url
from monitor.models import FeedState, Item
from monitor.script import item_language

MAX_TITLE = 500
MAX_SUMMARY = 2000
EARLIEST = datetime(1995, 1, 1, tzinfo=UTC)  # before any news feed existed
# A date up to a day ahead is a wrong zone or a fast clock; further ahead, it is made up.
LATEST_AHEAD = timedelta(days=1)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffe\uffff]")
_SPACE = re.compile(r"\s+")
# A space before every block-level tag keeps words of adjacent paragraphs apart.
_BLOCK = re.compile(
    r"(?=<(?:/?(?:p|div|br|li|ul|ol|tr|td|th|table|h[1-6]|blockquote|section|article)\b))",
    re.IGNORECASE,
)
# Something a browser would treat as a tag; none may survive into stored text.
_TAG = re.compile(r"<[A-Za-z!/?][^<>]*>")


def _html_text(text: str) -> str:
    """The text of an HTML fragment (lexbor, a fast HTML5 parser), without scripts and styles."""
    tree = LexborHTMLParser(_BLOCK.sub(" ", text))
    tree.strip_tags(["script", "style", "noscript", "template"])
    return tree.root.text(separator="") if tree.root is not None else ""


def clean_text(value: Any, limit: int) -> str:
    """Plain, single-spaced, NUL- and control-free text from a possibly-HTML value.

    Markup is removed until none is left: escaped markup inside markup (`&lt;script&gt;` in
    an HTML summary) becomes a tag after one pass, so extraction repeats, and whatever still
    looks like a tag after three passes is cut out.
    """
    if not value:
        return ""
    text = str(value).replace("\x00", "")
    for _ in range(3):
        if "<" in text and _TAG.search(text):
            text = _html_text(text)
        elif "&" in text:
            text = html.unescape(text)
            if not _TAG.search(text):
                break
        else:
            break
    text = _TAG.sub(" ", text)
    text = unicodedata.normalize("NFC", _CONTROL.sub(" ", text))
    text = _SPACE.sub(" ", text).strip()
    # Lone surrogates cannot be stored as UTF-8 (PostgreSQL refuses them).
    text = text.encode("utf-8", "replace").decode("utf-8")
    if len(text) > limit:
        cut = text.rfind(" ", 0, limit)
        text = text[: cut if cut > limit // 2 else limit].rstrip() + " …"
    return text


def plausible_date(when: datetime, now: datetime) -> bool:
    """Whether an aware time can be a feed item's date: from EARLIEST to a day after `now`.

    Outside that range a date counts as no date. Comparing never overflows, whereas turning
    a time near year 1 or 9999 into UTC can; parsers ask this before they convert.
    """
    return EARLIEST <= when <= now + LATEST_AHEAD


def entry_date(entry: Mapping[str, Any], fetched: datetime) -> datetime | None:
    """The entry's published (else updated) time in UTC, or None when it has no plausible
    one (`plausible_date`); a time up to a day ahead of `fetched` is clamped to it."""
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        parsed = entry.get(key)
        if not parsed:
            continue
        try:
            when = datetime.fromtimestamp(calendar.timegm(parsed), tz=UTC)
        except (OverflowError, ValueError, TypeError, OSError):
            continue
        if not plausible_date(when, fetched):
            continue
        # A date a little ahead (a wrong zone) must not sort above current news.
        return min(when, fetched)
    return None


def normalize(entry: Mapping[str, Any], feed: FeedState, fetched: datetime) -> Item:
    """One raw entry as an Item. Identity: GUID, else canonical link, else a content hash."""
    title = clean_text(entry.get("title"), MAX_TITLE)
    summary = clean_text(_summary(entry), MAX_SUMMARY)
    link = _http_link(entry.get("link"))
    canon = canonical_url(link) if link else None
    guid = clean_text(entry.get("id"), 1000)
    content_hash = hashlib.sha256(f"{title}\n{summary}".encode()).hexdigest()
    if guid:
        key = f"guid:{guid}"
    elif canon:
        key = f"url:{canon}"
    else:
        key = f"hash:{content_hash}"
    return Item(
        feed_id=feed.id,
        key=key,
        url=link,
        title=title or (summary[:120] if summary else "(untitled)"),
        summary=summary,
        published=entry_date(entry, fetched),
        fetched=fetched,
        content_hash=content_hash,
        source=feed.name,
        language=item_language(feed.language, title, summary),
    )


def _summary(entry: Mapping[str, Any]) -> str:
    summary = entry.get("summary")
    if summary:
        return str(summary)
    content = entry.get("content")
    if isinstance(content, list) and content:
        return str(content[0].get("value") or "")
    return ""


def _http_link(value: Any) -> str | None:
    """The link if it is an absolute http(s) URL, else None (javascript:, data:, relative...)."""
    if not isinstance(value, str):
        return None
    value = _CONTROL.sub("", value).strip()
    if re.match(r"^https?://[^\s/?#]+", value, re.IGNORECASE):
        return str(value[:2048])
    return None
