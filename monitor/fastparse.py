"""The fast path of `monitor.parse.parse_feed`: well-formed RSS 2.0 and Atom 1.0 read with lxml.

feedparser is the reference and stays the fallback. This module owns one promise: for every
document it accepts, its entries normalize (`monitor.normalize.normalize`) to exactly the
items feedparser's would, and its feed title is feedparser's. It does not reimplement
feedparser; it reproduces the few things our pipeline reads (title, summary or content,
link, id, published/updated/created dates, the feed title) for documents whose shape it
can vouch for, and declines (returns None: "use feedparser") on anything else, including:

- anything lxml's strict parser rejects (not well-formed, undefined entities, bad UTF-8),
  a DOCTYPE, XML 1.1, `xml:base` or any `base` attribute (feedparser resolves against it);
- an encoding feedparser would read differently (its RFC 3023 rules over the Content-Type
  charset, the XML declaration and the BOM) or any encoding but UTF-8 (ASCII documents
  pass under any ASCII-compatible label);
- a root other than `<rss version="2.0|0.91|0.92"><channel>` or an Atom 1.0 `<feed>`, items
  or entries anywhere but directly under it, namespace prefixes that feedparser would map
  onto other element names than their namespace says;
- elements feedparser maps onto our fields in ways not reproduced here (abstract, xhtml:body,
  images and text inputs inside items, an Atom `<source>`, title/summary/link/id/date
  elements nested below an entry's children, Atom xhtml or base64 content, content `src`),
  text elements with child elements (feedparser serializes them as markup), and dates in
  anything but strict RFC 822 or ISO 8601 (feedparser's other formats stay with it).

What *is* reproduced follows feedparser's own rules (feedparser/mixin.py and namespaces/):
title precedence (`title`, `dc:title`, `media:title`), the summary/content dance (a second
description becomes content unless content was seen; content:encoded fills an absent
summary), link precedence (text links and Atom alternate links override, a permalink guid
or Atom id only fills an absent link), relative URLs resolved against the feed URL,
last-wins dates, and the text clean-up feedparser applies to every value (strip, the
"UTF-8 read as Latin-1" repair, Windows-1252 control codes). feedparser's namespace table,
handler names and Windows-1252 map are read from feedparser itself, so both paths agree on
which element is which.
"""

from __future__ import annotations

import codecs
import contextlib
import re
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from time import struct_time
from typing import Any
from urllib.parse import urljoin, urlsplit

from feedparser import encodings as _fp_encodings
from feedparser.html import _cp1252 as _FP_CP1252
from feedparser.mixin import _FeedParserMixin
from lxml import etree

from monitor.parse import ParsedFeed

_ATOM_FEED = "{http://www.w3.org/2005/Atom}feed"
_ATOM_ENTRY = "{http://www.w3.org/2005/Atom}entry"
_RSS_VERSIONS = frozenset({"2.0", "0.91", "0.92"})

# --- What feedparser calls each element ------------------------------------------------
# feedparser names an element by the prefix it registers for the element's namespace URI
# (case-insensitively), e.g. any URI of Dublin Core → "dc_title"; the core RSS/Atom
# namespaces map to no prefix. Unknown namespaces keep the document's prefix.
_KNOWN_NS: dict[str, str] = {
    uri.lower(): prefix for uri, prefix in _FeedParserMixin.namespaces.items()
}
_STD_PREFIXES = frozenset(p.lower() for p in _KNOWN_NS.values() if p)
_STARTS = frozenset(n[len("_start_") :] for n in dir(_FeedParserMixin) if n.startswith("_start_"))
_ENDS = frozenset(n[len("_end_") :] for n in dir(_FeedParserMixin) if n.startswith("_end_"))
# Every element name feedparser has a handler for; an element of one of these names that
# is neither reproduced here nor known to leave our fields alone makes us decline.
_HANDLED = _STARTS | _ENDS
# End handlers without a start handler pop a value that an element with attributes never
# pushed (and some then fail on None): leave those to feedparser.
_END_ONLY = _ENDS - _STARTS

_TITLE = frozenset({"title", "dc_title", "media_title"})
# description and summary behave alike for entries: a second one becomes content unless
# content was seen (feedparser's _start_description / _start_summary).
_DESCRIPTION = frozenset(
    {"description", "dc_description", "media_description", "summary", "itunes_summary"}
)
_ENCODED = frozenset({"content_encoded", "fullitem"})  # default type text/html
_CONTENT = frozenset({"content"})  # default type text/plain
_LINK = frozenset({"link"})
_ID = frozenset({"guid", "id"})
_DATES = {
    **dict.fromkeys(("published", "issued", "pubdate", "dcterms_issued"), "published_parsed"),
    **dict.fromkeys(
        ("updated", "modified", "lastbuilddate", "dc_date", "dcterms_modified"), "updated_parsed"
    ),
    **dict.fromkeys(("created", "dcterms_created"), "created_parsed"),
}
_ENTRY = frozenset({"item", "entry"})
_STRUCTURE = frozenset({"rss", "channel", "feed", "item", "entry"})
_ROLES = _TITLE | _DESCRIPTION | _ENCODED | _CONTENT | _LINK | _ID | frozenset(_DATES)
# Handlers that store nothing we read and change no parser state we depend on.
_HARMLESS = frozenset(
    {
        "author", "category", "cloud", "contributor", "copyright", "dc_author",
        "dc_contributor", "dc_creator", "dc_language", "dc_publisher", "dc_rights",
        "dc_subject", "dcterms_valid", "email", "enclosure", "expirationdate",
        "feedburner_browserfriendly", "generator", "height", "homepage", "info",
        "itunes_author", "itunes_block", "itunes_category", "itunes_email", "itunes_explicit",
        "itunes_image", "itunes_keywords", "itunes_link", "itunes_name", "itunes_owner",
        "itunes_subtitle", "keywords", "language", "managingeditor", "media_category",
        "media_content", "media_credit", "media_group", "media_keywords", "media_license",
        "media_player", "media_rating", "media_restriction", "media_thumbnail", "name",
        "newlocation", "rights", "subtitle", "tagline", "tags", "uri", "url", "webmaster",
        "width",
    }
)  # fmt: skip
# Elements whose text feedparser collects as content: with child elements inside, it
# serializes them as markup and its depth bookkeeping drifts, so we decline.
_OTHER_TEXT = {"subtitle", "tagline", "itunes_subtitle", "rights", "copyright", "dc_rights"}
_TEXT_CONSTRUCTS = (_TITLE | _DESCRIPTION | _ENCODED | _CONTENT).union(
    _OTHER_TEXT, {"info", "feedburner_browserfriendly", "abstract", "body", "xhtml_body"}
)
# Keys feedparser keeps structured values (or our fields) under: an unknown element of such
# a name would overwrite them (feedparser stores an unknown element's text under its name).
_RESERVED = frozenset(
    {
        "links", "tags", "authors", "contributors", "content", "source", "image",
        "textinput", "enclosures", "license", "href", "guidislink", "publisher", "author",
        "media_content", "media_thumbnail", "media_credit", "media_rating",
        "media_restriction", "media_license", "media_player", "generator_detail",
    }
)  # fmt: skip
# Inside <image>, feedparser leaves "image" mode at any unprefixed element but these.
_IMAGE_CHILDREN = frozenset({"title", "link", "description", "url", "href", "width", "height"})

_TEXT_TYPES = {"text": "text/plain", "plain": "text/plain", "html": "text/html"}
_ACCEPTED_TYPES = frozenset({"text/plain", "text/html"})
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_CP1252 = dict(_FP_CP1252)
_XML_APPLICATION = frozenset(
    {"application/xml", "application/xml-dtd", "application/xml-external-parsed-entity"}
)

# Starts with a literal so that the scan skips ahead (a leading \s would test every byte).
_XMLNS = re.compile(rb"""xmlns(?::([^\s=/>]+))?\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_SCHEME_SLASHES = re.compile(r"^([A-Za-z][A-Za-z0-9+,.\-]*://)/*")
# Absolute http(s) URLs that urljoin returns unchanged: lower-case scheme, ASCII host, no
# whitespace or controls (urlsplit drops those), no path parameters (;), no empty query or
# fragment marker (urlunparse drops a bare ? or #), no extra slashes (the scheme fix-up).
_PLAIN_URL = re.compile(
    r"https?://[A-Za-z0-9.\-]+(?::[0-9]+)?"
    r"(?:/[^\x00-\x20\x7f-\x9f?#;\\]*)?"
    r"(?:\?[^\x00-\x20\x7f-\x9f#\\]+)?"
    r"(?:#[^\x00-\x20\x7f-\x9f\\]+)?"
)
_AMP_NAME = re.compile(r"&([A-Za-z0-9_]+);")
# Any `base` attribute (feedparser resolves URLs against it, whatever its namespace), and
# in non-ASCII documents attribute and PI names lxml (XML 1.0, 5th edition) accepts but
# expat (4th edition) may not, which would send feedparser to its loose parser. Element
# names are checked as they are named (`_Document.name`).
_BASE = "translate(local-name(), 'BASE', 'base') = 'base'"
_ASCII_NAME = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-:"
_NON_ASCII = f"translate(name(), '{_ASCII_NAME}', '') != ''"
_BASE_ATTRS = etree.XPath(f"//@*[{_BASE}]")
_ODD_ATTRS = etree.XPath(
    f"//@*[{_BASE} or {_NON_ASCII}] | //processing-instruction()[{_NON_ASCII}]"
)
_RFC822 = re.compile(
    r"(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), )?\d{1,2} "
    r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}(?::\d{2})? "
    r"(?:[+-]\d{4}|GMT|UTC?|Z|[ECMP][SD]T)"
)
_ISO8601 = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2})?"
)


class _Decline(Exception):
    """Raised inside this module when feedparser must decide; never escapes `fast_parse`."""


def fast_parse(body: bytes, url: str, content_type: str | None) -> ParsedFeed | None:
    """The feed as feedparser would give it, or None when feedparser must parse it.

    Call it after the entity refusal of `parse_feed`; it never raises for any bytes.
    """
    try:
        return _parse(body, url, content_type)
    except _Decline:
        return None
    except Exception:  # a fault here must cost speed, never a feed: feedparser decides
        return None


def _parse(body: bytes, url: str, content_type: str | None) -> ParsedFeed:
    base = _base_uri(url)
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        recover=False,
        remove_blank_text=False,
    )
    try:
        root = etree.fromstring(body, parser)
    except (etree.LxmlError, ValueError):
        raise _Decline from None
    info = root.getroottree().docinfo
    if info.doctype or info.xml_version != "1.0" or not isinstance(root.tag, str):
        raise _Decline
    _check_encoding(body, content_type, info.encoding or "")
    if (_BASE_ATTRS if body.isascii() else _ODD_ATTRS)(root):
        raise _Decline
    doc = _Document(base, _namespaces(body))
    if root.tag == "rss" and root.get("version") in _RSS_VERSIONS:
        channels = [c for c in root if isinstance(c.tag, str)]
        if len(channels) != 1 or channels[0].tag != "channel":
            raise _Decline
        return doc.feed(channels[0], "item")
    if root.tag == _ATOM_FEED:
        return doc.feed(root, _ATOM_ENTRY)
    raise _Decline


# --- Encoding ---------------------------------------------------------------------------


def _check_encoding(body: bytes, content_type: str | None, lxml_encoding: str) -> None:
    """Decline unless feedparser decodes these bytes to the very text lxml read.

    lxml must have read UTF-8 (or an ASCII document under an ASCII-compatible label); then
    feedparser's choice among the Content-Type charset, the declared encoding and the BOM
    (encodings.convert_to_utf8, RFC 3023) must decode them to the same text.
    """
    try:
        lxml_codec = codecs.lookup(lxml_encoding).name
    except LookupError:
        raise _Decline from None
    if lxml_codec != "utf-8" and not (
        lxml_codec in ("ascii", "iso8859-1", "cp1252") and body.isascii()
    ):
        raise _Decline
    data, bom = body, ""
    if body[:3] == codecs.BOM_UTF8:
        data, bom = body[3:], "utf-8"
    elif body[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE) or body[:1] == b"\0":
        raise _Decline  # UTF-16 and UTF-32, which lxml has read as such
    try:
        declared = declared_encoding(data).decode("utf-8").lower()
    except UnicodeDecodeError:
        raise _Decline from None  # feedparser itself fails on this
    if bom and declared in ("u16", "utf-16", "utf16", "utf_16", "u32", "utf-32", "utf32"):
        declared = bom
    mime, charset = _content_type(content_type)
    if mime in _XML_APPLICATION or (mime.startswith("application/") and mime.endswith("+xml")):
        chosen = charset or declared or "utf-8"
    elif mime.startswith("text/"):
        chosen = charset or "us-ascii"
    elif content_type:
        chosen = declared or "utf-8"
    else:  # parse_feed sends no Content-Type header then
        chosen = declared or "iso-8859-1"
    candidates: list[Any] = [chosen, declared, bom, _fp_encodings.lazy_chardet_encoding]
    tried: list[str] = []
    for candidate in [*candidates, "utf-8"]:
        if callable(candidate):
            raise _Decline  # chardet is installed: its guess is not ours to make
        if not candidate or candidate in tried:
            continue
        tried.append(candidate)
        if candidate.lower() == "gb2312":
            candidate = "gb18030"
        try:
            codec = codecs.lookup(candidate).name
        except LookupError:
            continue
        except Exception:
            raise _Decline from None
        if codec == "utf-8":
            return  # valid UTF-8: lxml has checked it
        if codec == "ascii":
            if data.isascii():
                return
            continue
        try:
            text = data.decode(candidate)
        except (UnicodeDecodeError, LookupError):
            continue
        except Exception:
            raise _Decline from None
        if text == data.decode("utf-8"):
            return
        raise _Decline
    raise _Decline


def declared_encoding(data: bytes) -> bytes:
    """What feedparser's RE_XML_PI_ENCODING (``^<\\?.*encoding=['"](.*?)['"].*\\?>``) captures.

    Computed with searches instead of the regex, whose greedy ``.*`` runs to the end of the
    first line and back: on a single-line document that is the whole feed. The regex takes
    the last ``encoding=`` plus quote on the first line after which a quote closes the value
    and a ``?>`` follows; the value ends at the first quote of either kind. Tested against
    the regex in tests/test_fastparse.py.
    """
    end = data.find(b"\n")
    line = data if end < 0 else data[:end]
    if not line.startswith(b"<?"):
        return b""
    at = len(line)
    while (at := line.rfind(b"encoding=", 2, at)) >= 0:
        start = at + len(b"encoding=")
        if line[start : start + 1] not in (b"'", b'"'):
            continue
        quotes = [q for q in (line.find(b"'", start + 1), line.find(b'"', start + 1)) if q >= 0]
        if quotes and line.find(b"?>", min(quotes) + 1) >= 0:
            return line[start + 1 : min(quotes)]
    return b""


def _content_type(value: str | None) -> tuple[str, str]:
    """MIME type and charset, split the way feedparser splits them (case kept)."""
    if not value:
        return "", ""
    chunks = value.split(";")
    charset = ""
    for chunk in chunks[1:]:
        key, _, val = chunk.partition("=")
        if key.strip().lower() == "charset":
            charset = val.strip().strip("\"'")
    return chunks[0].strip(), charset


# --- Namespaces and names ---------------------------------------------------------------


def _namespaces(body: bytes) -> dict[str, str | None]:
    """Unknown namespace URI → the one prefix bound to it (None: only as default namespace).

    Declines when feedparser would name elements other than by their namespace: a prefix
    bound to two URIs, a known URI under a prefix other than feedparser's, an unknown URI
    under a prefix feedparser reserves, or an unknown URI under two prefixes. Text that
    merely looks like a declaration can only add reasons to decline.
    """
    by_prefix: dict[str, str] = {}
    unknown: dict[str, str | None] = {}
    for m in _XMLNS.finditer(body):
        if m.start() == 0 or body[m.start() - 1] not in b" \t\r\n":
            continue  # not an attribute
        raw = m.group(2) if m.group(2) is not None else m.group(3)
        if not raw:
            continue  # feedparser ignores empty declarations
        if b"&" in raw or any(c in raw for c in b" \t\r\n"):
            raise _Decline
        try:
            uri = raw.decode("utf-8")
            prefix = m.group(1).decode("ascii") if m.group(1) else None
        except UnicodeDecodeError:
            raise _Decline from None  # a non-ASCII prefix (see _ODD_ATTRS)
        if prefix is not None and by_prefix.setdefault(prefix.lower(), uri) != uri:
            raise _Decline
        std = _KNOWN_NS.get(_fold_uri(uri))
        if std is not None:
            if prefix is not None and (
                (std and prefix != std) or (not std and prefix.lower() in _STD_PREFIXES)
            ):
                raise _Decline
            continue
        if prefix is not None and prefix.lower() in _STD_PREFIXES:
            raise _Decline
        if uri in unknown and unknown[uri] != prefix:
            raise _Decline
        unknown[uri] = prefix
    return unknown


def _fold_uri(uri: str) -> str:
    lower = uri.lower()
    return "http://backend.userland.com/rss" if "backend.userland.com/rss" in lower else lower


class _Document:
    """One document's walk: feedparser's name for each element, the base URI, the entries."""

    def __init__(self, base: str, unknown_ns: dict[str, str | None]) -> None:
        self.base = base
        self.unknown_ns = unknown_ns
        self.names: dict[str, tuple[str, bool]] = {}

    def name(self, tag: str) -> tuple[str, bool]:
        """feedparser's name for an element (e.g. "dc_title") and whether it has a prefix."""
        known = self.names.get(tag)
        if known is not None:
            return known
        if tag[0] != "{":
            if not tag.isascii():
                raise _Decline  # see _ODD_ATTRS
            found = (tag.lower(), False)
        else:
            uri, local = tag[1:].split("}", 1)
            if not local.isascii():
                raise _Decline
            std = _KNOWN_NS.get(_fold_uri(uri))
            if std is None:
                if uri not in self.unknown_ns:
                    raise _Decline  # a declaration we did not see
                std = self.unknown_ns[uri]
            found = (f"{std.lower()}_{local.lower()}", True) if std else (local.lower(), False)
        self.names[tag] = found
        return found

    def elements(
        self, nodes: Iterable[etree._Element]
    ) -> Iterator[tuple[etree._Element, str, bool]]:
        """Each element of `nodes` (comments and processing instructions skipped) with its
        feedparser name and whether that name has a prefix."""
        for node in nodes:
            if isinstance(node.tag, str):
                yield node, *self.name(node.tag)

    # --- feed level

    def feed(self, container: etree._Element, entry_tag: str) -> ParsedFeed:
        entries: list[dict[str, Any]] = []
        titles: list[etree._Element] = []
        summaries = descriptions = 0
        for child, name, prefixed in self.elements(container):
            if name in _ENTRY:
                if child.tag != entry_tag:
                    raise _Decline
                entries.append(self.entry(child))
            elif name in _TITLE:
                _text_attrs(child)
                titles.append(child)
            elif name == "image":
                self.image(child)
            elif name in _LINK or name in _ID or name in _DATES:
                self.below(child)  # the feed's own link, id and dates: not ours to read
            elif name in _ENCODED or name in _CONTENT or name in _STRUCTURE:
                raise _Decline  # content before the first item would leak into it
            elif name in _DESCRIPTION:
                descriptions += 1
                summaries += name in ("summary", "itunes_summary")
                _text_attrs(child)
            else:
                self.other(child, name, prefixed)
                self.below(child)
        # A feed-level summary turns a later description into content, which leaks into
        # the first entry; two or more feed-level titles follow feedparser's depth rules.
        if (summaries and descriptions > 1) or len(titles) > 1:
            raise _Decline
        title = _clean(titles[0].text or "") if titles else ""
        return ParsedFeed(title=title, entries=entries)

    def image(self, image: etree._Element) -> None:
        for el, name, prefixed in self.elements(image.iterdescendants()):
            if prefixed or name not in _IMAGE_CHILDREN or len(el):
                raise _Decline
            if name in _TITLE:
                _text_attrs(el)

    def other(self, el: etree._Element, name: str, prefixed: bool) -> None:
        """Decline unless an element outside our fields leaves them (and feedparser) alone."""
        if name in _HANDLED:
            if name not in _HARMLESS or (name in _END_ONLY and len(el.attrib)):
                raise _Decline
            if name in _TEXT_CONSTRUCTS and len(el):
                raise _Decline
        elif name in _RESERVED or name.endswith(("_parsed", "_detail")):
            raise _Decline

    def below(self, el: etree._Element) -> None:
        """Descendants of an element we do not read: none of them may be one we read."""
        for sub, name, prefixed in self.elements(el.iterdescendants()):
            if name in _ROLES or name in _STRUCTURE or name == "source":
                raise _Decline
            self.other(sub, name, prefixed)

    # --- entries

    def entry(self, item: etree._Element) -> dict[str, Any]:
        if any(k in ("rdf:about", "lastmod", "href") for k in _fp_attrs(item)):
            raise _Decline  # feedparser reads these item attributes as id, date, link
        out: dict[str, Any] = {}
        title: etree._Element | None = None
        title_blocked = False  # feedparser's title_depth: a non-empty title blocks later ones
        summary: etree._Element | None = None  # the element whose text is the summary
        contents: list[etree._Element] = []
        has_content = False  # feedparser's hasContent
        link_set = False
        for child, name, prefixed in self.elements(item):
            if name in _TITLE:
                _text_attrs(child)
                if not title_blocked:
                    title = child
                if name != "media_title" and _clean(child.text or ""):
                    title_blocked = True  # media:title restores the depth it found
            elif name in _DESCRIPTION:
                _text_attrs(child)
                if summary is not None and not has_content:
                    has_content = True  # becomes content; the summary stays
                    contents.append(child)
                else:
                    summary = child
            elif name in _ENCODED or name in _CONTENT:
                attrs = _text_attrs(child)
                if "src" in attrs:
                    raise _Decline
                has_content = True
                contents.append(child)
                if summary is None:
                    summary = child  # content copied into an absent summary
            elif name in _LINK:
                if len(child):
                    raise _Decline
                attrs = _fp_attrs(child)
                if "url" in attrs or "uri" in attrs:
                    raise _Decline
                if "href" in attrs:
                    rel = attrs.get("rel", "alternate")
                    default = "application/atom+xml" if rel == "self" else "text/html"
                    kind = attrs.get("type", default)
                    if rel == "alternate" and _TEXT_TYPES.get(kind, _xhtml(kind)) in _HTML_TYPES:
                        out["link"] = self.resolve(attrs["href"])
                        link_set = True
                else:
                    out["link"] = self.text_link(child.text or "")
                    link_set = True
            elif name in _ID:
                if len(child):
                    raise _Decline
                permalink = _fp_attrs(child).get("ispermalink", "true") == "true"
                value = (child.text or "").strip()
                if value and permalink:
                    value = self.resolve(value)
                value = _repair(value)
                out["id"] = value
                if permalink and not link_set:
                    out["link"] = value
                    link_set = True
            elif name in _DATES:
                if len(child):
                    raise _Decline
                out[_DATES[name]] = _date(_clean(child.text or ""))
            elif name == "source":
                if len(child):
                    raise _Decline  # an Atom source carries its own title, links and id
                title_blocked = False  # feedparser resets title_depth at <source>
            else:
                if name in _STRUCTURE or name in ("image", "textinput"):
                    raise _Decline
                self.other(child, name, prefixed)
            if len(child):
                self.below(child)
        if title is not None:
            out["title"] = _clean(title.text or "")
        text = _clean(summary.text or "") if summary is not None else ""
        if not text and contents:
            text = _clean(contents[0].text or "")  # what normalize falls back to
        out["summary"] = text
        return out

    def resolve(self, uri: str) -> str:
        """feedparser's relative URL resolution against the feed URL (urls._urljoin)."""
        return _urljoin(self.base, uri)

    def text_link(self, text: str) -> str:
        """An RSS <link>'s text as feedparser stores it."""
        value = text.strip()
        if value:
            value = self.resolve(value)
        value = _repair(value).replace("&amp;", "&")
        return _AMP_NAME.sub(r"&\1", value) if "&" in value else value


def _urljoin(base: str, uri: str) -> str:
    """feedparser's urls._urljoin: extra slashes after the scheme dropped, then urljoin."""
    if _PLAIN_URL.fullmatch(uri):
        return uri  # what urljoin would return, without its cost (most links are absolute)
    uri = _SCHEME_SLASHES.sub(r"\1", uri)
    try:
        return urljoin(base, uri)
    except ValueError:
        return ""


def _base_uri(url: str) -> str:
    """The base feedparser resolves against when given the feed URL as Content-Location."""
    try:
        scheme = urlsplit(url).scheme
    except ValueError:
        raise _Decline from None
    if scheme not in ("http", "https"):
        raise _Decline
    base = _urljoin(url, url)
    if base.split(":", 1)[0] not in ("http", "https") or _urljoin(base, base) != base:
        raise _Decline
    return base


def _xhtml(kind: str) -> str:
    return "application/xhtml+xml" if kind == "xhtml" else kind


def _fp_attrs(el: etree._Element) -> dict[str, str]:
    """An element's attributes keyed as feedparser keys them (namespaces.py, strict.py)."""
    out: dict[str, str] = {}
    for key, value in el.attrib.items():
        key = str(key)
        if key[0] == "{":
            uri, local = key[1:].split("}", 1)
            std = _KNOWN_NS.get(uri.lower(), "")
            key = f"{std}:{local}" if std else local
        key = key.lower()
        out[key] = str(value).lower() if key in ("rel", "type") else str(value)
    return out


def _text_attrs(el: etree._Element) -> dict[str, str]:
    """Attributes of a title/summary/content element, declining the kinds not reproduced."""
    if len(el):
        raise _Decline  # markup inside: feedparser serializes it as xhtml
    attrs = _fp_attrs(el)
    if "mode" in attrs:
        raise _Decline
    kind = attrs.get("type")
    if kind is not None and _TEXT_TYPES.get(kind, kind) not in _ACCEPTED_TYPES:
        raise _Decline  # xhtml, base64 and other media types
    return attrs


def _repair(value: str) -> str:
    """feedparser's last touches on every value: UTF-8 read as Latin-1, Windows-1252 codes."""
    if value.isascii():
        return value
    with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
        value = value.encode("iso-8859-1").decode("utf-8")
    return value.translate(_CP1252)


def _clean(text: str) -> str:
    return _repair(text.strip())


def _date(value: str) -> struct_time | None:
    """A UTC struct_time where feedparser's date handlers would surely agree, else decline."""
    if not value:
        return None
    parse: Callable[[str], datetime]
    if _RFC822.fullmatch(value):
        parse = parsedate_to_datetime
    elif _ISO8601.fullmatch(value):
        parse = datetime.fromisoformat
    else:
        raise _Decline
    try:
        when = parse(value)
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)  # feedparser reads a missing zone as UTC
        return when.utctimetuple()
    except (ValueError, OverflowError):
        raise _Decline from None
