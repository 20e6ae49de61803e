"""The feeds of matched stories an analyst subscribes to: Atom 1.0 and JSON Feed 1.1.

Pure: cards in, bytes out. One entry per story, never per report, with an id made from the
story id (a tag: URI) so that it stays the same on every poll; its `updated` time is when
the story's latest report was stored, so a report joining moves it. `not_modified` decides
a conditional GET from the validators these bodies get (a strong ETag of the body, and
Last-Modified from the newest `updated`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from xml.etree import ElementTree as ET

from markupsafe import escape

from monitor.search import outlets_label, safe_link
from monitor.store.search import StoryCard

ATOM_NS = "http://www.w3.org/2005/Atom"
TAG_AUTHORITY = "frontier-monitor,2026"  # fixed: entry ids must never change


def entry_id(story_id: int) -> str:
    return f"tag:{TAG_AUTHORITY}:story/{story_id}"


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _content_html(card: StoryCard) -> str:
    """The story's reports as an HTML list: every piece of feed text escaped, links only
    http/https (the reader renders this)."""
    rows = []
    for r in card.reports:
        title = escape(r.title)
        link = safe_link(r.url)
        text = f'<a href="{escape(link)}">{title}</a>' if link else str(title)
        rows.append(f"<li>{escape(r.outlet)}: {text}</li>")
    return f"<ul>{''.join(rows)}</ul>"


def _summary(card: StoryCard) -> str:
    n = len(card.reports)
    topics = ", ".join(card.topics) or "-"
    alert = "ALERT; " if card.severity == "alert" else ""
    return f"{alert}{outlets_label(card.outlets)}; {n} report{'s' if n != 1 else ''}; {topics}"


def updated(cards: Sequence[StoryCard]) -> datetime | None:
    return max((c.updated for c in cards), default=None)


def atom(
    cards: Sequence[StoryCard], *, title: str, self_url: str, page_url: str, story_url: str
) -> bytes:
    """An Atom 1.0 document; `story_url` has "{id}" where a story's id goes."""
    ET.register_namespace("", ATOM_NS)

    def sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        el = ET.SubElement(parent, f"{{{ATOM_NS}}}{tag}", attrs)
        if text is not None:
            el.text = text
        return el

    feed = ET.Element(f"{{{ATOM_NS}}}feed")
    sub(feed, "id", self_url)
    sub(feed, "title", title)
    sub(feed, "updated", _iso(updated(cards) or datetime(2026, 1, 1, tzinfo=UTC)))
    sub(feed, "link", rel="self", href=self_url, type="application/atom+xml")
    sub(feed, "link", rel="alternate", href=page_url, type="text/html")
    author = sub(feed, "author")
    sub(author, "name", "Frontier Monitor")
    sub(feed, "generator", "Frontier Monitor")
    for card in cards:
        entry = sub(feed, "entry")
        sub(entry, "id", entry_id(card.id))
        sub(entry, "title", card.title)
        sub(entry, "updated", _iso(card.updated))
        sub(entry, "published", _iso(card.first_seen))
        sub(entry, "link", rel="alternate", href=story_url.format(id=card.id), type="text/html")
        for r in card.reports:
            link = safe_link(r.url)
            if link:
                sub(entry, "link", rel="related", href=link, title=r.outlet)
        for outlet in card.outlets:
            contributor = sub(entry, "contributor")
            sub(contributor, "name", outlet)
        for topic in card.topics:
            sub(entry, "category", term=topic)
        sub(entry, "summary", _summary(card), type="text")
        sub(entry, "content", _content_html(card), type="html")
    body: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return body


def json_feed(
    cards: Sequence[StoryCard], *, title: str, self_url: str, page_url: str, story_url: str
) -> bytes:
    """A JSON Feed 1.1 document; `story_url` has "{id}" where a story's id goes."""
    items = []
    for card in cards:
        links = [safe_link(r.url) for r in card.reports]
        first = next((link for link in links if link), None)
        item: dict[str, object] = {
            "id": entry_id(card.id),
            "url": story_url.format(id=card.id),
            "title": card.title,
            "summary": _summary(card),
            "content_html": _content_html(card),
            "date_published": _iso(card.first_seen),
            "date_modified": _iso(card.updated),
            "authors": [{"name": outlet} for outlet in card.outlets],
            "tags": list(card.topics),
            "_frontier_monitor": {
                "severity": card.severity,
                "rules": list(card.rules),
                "reports": [
                    {"outlet": r.outlet, "title": r.title, "url": safe_link(r.url)}
                    for r in card.reports
                ],
            },
        }
        if first:
            item["external_url"] = first
        items.append(item)
    doc = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": title,
        "home_page_url": page_url,
        "feed_url": self_url,
        "authors": [{"name": "Frontier Monitor"}],
        "items": items,
    }
    text = json.dumps(doc, ensure_ascii=False, indent=1)
    # <, > and & only occur inside strings: escaped there, the body holds no markup at all
    # for anything that sniffs it as HTML. Every JSON parser reads them back unchanged.
    for char, code in (("&", "\\u0026"), ("<", "\\u003c"), (">", "\\u003e")):
        text = text.replace(char, code)
    return text.encode("utf-8")


def validators(body: bytes, last: datetime | None) -> dict[str, str]:
    """ETag and Last-Modified headers for a feed body."""
    headers = {"ETag": '"' + hashlib.sha256(body).hexdigest()[:32] + '"'}
    if last is not None:
        headers["Last-Modified"] = format_datetime(last.astimezone(UTC), usegmt=True)
    return headers


def not_modified(request_headers: Mapping[str, str], mine: Mapping[str, str]) -> bool:
    """Whether a conditional GET gets 304: If-None-Match when sent (it wins, RFC 9110
    13.2.2), else If-Modified-Since against Last-Modified (whole seconds)."""
    inm = request_headers.get("if-none-match")
    if inm is not None:
        tags = {t.strip().removeprefix("W/") for t in inm.split(",")}
        return "*" in tags or mine["ETag"] in tags
    ims, last = request_headers.get("if-modified-since"), mine.get("Last-Modified")
    if ims is None or last is None:
        return False
    try:
        since = parsedate_to_datetime(ims)
    except (TypeError, ValueError):
        return False  # a date that cannot be read: the whole body, as if none was sent
    if since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    return parsedate_to_datetime(last) <= since
