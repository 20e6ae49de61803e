"""OPML 2.0 subscription lists: reading outlines for `monitor feeds import`, writing for export.

Reading refuses entity declarations and internal DTD subsets first (the same rule as feeds),
so an OPML file cannot expand or pull in anything; only http and https feed URLs are kept.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime

from monitor.errors import MonitorError
from monitor.parse import refused_xml
from monitor.settings import feed_url_problem


@dataclass(frozen=True, slots=True)
class Outline:
    name: str
    url: str
    language: str = "en"


@dataclass(frozen=True, slots=True)
class OpmlRead:
    outlines: tuple[Outline, ...]
    refused: tuple[str, ...]  # one sentence per outline that was skipped


def read_opml(data: bytes, source: str) -> OpmlRead:
    """The feed outlines of an OPML document (nested folders included)."""
    if refused_xml(data):
        raise MonitorError(f"{source}: entity declarations are not allowed in OPML")
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise MonitorError(f"{source}: not valid XML ({exc})") from None
    if root.tag.lower() != "opml":
        raise MonitorError(f"{source}: not an OPML document (root element <{root.tag}>)")
    outlines: list[Outline] = []
    refused: list[str] = []
    for node in root.iter():
        if not isinstance(node.tag, str) or node.tag.lower() != "outline":
            continue
        # Exporters differ in case (xmlUrl, xmlurl, xmlURL): attribute names are read as one.
        attrs = {key.lower(): value for key, value in node.attrib.items()}
        url = (attrs.get("xmlurl") or "").strip()
        if not url:
            continue  # a folder
        name = (attrs.get("title") or attrs.get("text") or url).strip()[:300]
        problem = feed_url_problem(url)
        if problem:
            refused.append(f"{name}: {problem}")
            continue
        language = (attrs.get("language") or "en").strip()[:20] or "en"
        outlines.append(Outline(name, url, language))
    return OpmlRead(tuple(outlines), tuple(refused))


def write_opml(outlines: Sequence[Outline], title: str, now: datetime | None = None) -> bytes:
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = title
    ET.SubElement(head, "dateCreated").text = format_datetime(now or datetime.now(UTC))
    body = ET.SubElement(root, "body")
    for o in outlines:
        ET.SubElement(
            body,
            "outline",
            type="rss",
            text=o.name,
            title=o.name,
            xmlUrl=o.url,
            language=o.language,
        )
    ET.indent(root)
    data: bytes = ET.tostring(root, encoding="utf-8")
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + data + b"\n"
