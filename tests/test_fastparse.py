"""The lxml fast path (monitor/fastparse.py) against feedparser, the reference.

For every document the fast path accepts, its entries must normalize to the same items
(key, title, url, published, summary) as feedparser's, and the feed title must match:
over the recorded real feeds, a generated bench corpus, feedparser's own corpus (slow) and
generated documents full of the cases feedparser resolves in its own way. Coverage is
asserted too, so the fast path cannot pass by declining everything.
"""

from __future__ import annotations

import importlib.util
import io
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from xml.sax.saxutils import escape

import feedparser
import pytest
from conftest import DATA, ROOT, feedparser_corpus_files
from feedparser.urls import _urljoin as feedparser_urljoin
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor import fastparse
from monitor.errors import FeedError
from monitor.fastparse import declared_encoding, fast_parse
from monitor.itemize import unique_items
from monitor.models import FeedState
from monitor.normalize import normalize
from monitor.parse import ParsedFeed, parse_feed, parse_feed_reference

URL = "https://news.example.org/world/feed.xml"
FEED = FeedState(id=1, name="fast", url=URL, language="en")
NOW = datetime(2026, 9, 1, tzinfo=UTC)
REAL_FEEDS = sorted(
    p for d in (DATA / "feeds", ROOT / "seeds" / "feeds") for p in d.glob("*.xml") if p.is_file()
)

Item = tuple[str, str, str | None, datetime | None, str]


def items(parsed: ParsedFeed) -> list[Item]:
    found = unique_items(normalize(e, FEED, NOW) for e in parsed.entries)
    return [(i.key, i.title, i.url, i.published, i.summary) for i in found]


def assert_same(body: bytes, content_type: str | None, url: str = URL) -> bool:
    """True when the fast path accepts `body`; then it must agree with feedparser."""
    fast = fast_parse(body, url, content_type)
    if fast is None:
        return False
    reference = parse_feed_reference(body, url, content_type)
    assert items(fast) == items(reference)
    assert fast.title == reference.title
    return True


def feedparser_version(body: bytes, content_type: str | None) -> str:
    headers = {"content-location": URL, **({"content-type": content_type} if content_type else {})}
    return str(feedparser.parse(io.BytesIO(body), response_headers=headers).get("version"))


def load_bench_corpus() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_corpus", ROOT / "bench" / "corpus.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- Recorded feeds, the bench corpus, feedparser's corpus -----------------------------


@pytest.mark.parametrize("path", REAL_FEEDS, ids=lambda p: p.name)
def test_recorded_feeds_are_accepted_and_agree(path: Path) -> None:
    body = path.read_bytes()
    for content_type in ("application/rss+xml; charset=utf-8", "text/xml", None):
        accepted = assert_same(body, content_type)
        if content_type and feedparser_version(body, content_type) in ("rss20", "atom10"):
            # No exceptions: every recorded RSS 2.0 / Atom 1.0 feed takes the fast path.
            assert accepted, f"{path.name} declined with Content-Type {content_type}"
    assert items(parse_feed(body, URL)) == items(parse_feed_reference(body, URL))


def test_recorded_feeds_are_there() -> None:
    assert len([p for p in REAL_FEEDS if p.parent == DATA / "feeds"]) >= 14


def test_bench_corpus_is_accepted_entirely(tmp_path: Path) -> None:
    paths = load_bench_corpus().generate(tmp_path, 20)
    assert len(paths) == 20
    for path in paths:
        assert assert_same(path.read_bytes(), "application/xml"), path.name


@pytest.mark.slow
def test_feedparser_corpus_agrees_where_accepted(record_property: pytest.RecordProperty) -> None:
    files = feedparser_corpus_files()
    accepted = 0
    for path in files:
        body = path.read_bytes()
        try:
            # The fast path may only ever decline; any other failure would be a bug that
            # fast_parse hides by falling back.
            fastparse._parse(body, URL, "application/xml")
        except fastparse._Decline:
            continue
        assert assert_same(body, "application/xml"), path
        accepted += 1
    record_property("fastparse_corpus_accepted", f"{accepted}/{len(files)}")
    print(f"fast path accepted {accepted} of {len(files)} feedparser corpus files")
    assert accepted > 700  # 771 of 2,242 when written; most of the rest is not RSS 2.0/Atom 1.0


# --- Focused cases ----------------------------------------------------------------------


def rss(
    items_xml: str, head: str = "", decl: str = '<?xml version="1.0" encoding="utf-8"?>'
) -> bytes:
    return (
        f'{decl}<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/" '
        f'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
        f'xmlns:media="http://search.yahoo.com/mrss/" xmlns:atom="http://www.w3.org/2005/Atom">'
        f"<channel><title>Frontier</title>{head}{items_xml}</channel></rss>"
    ).encode()


def only(body: bytes, content_type: str | None = "application/rss+xml") -> Item:
    parsed = fast_parse(body, URL, content_type)
    assert parsed is not None, "declined"
    assert items(parsed) == items(parse_feed_reference(body, URL, content_type))
    (item,) = items(parsed)
    return item


def test_relative_link_is_resolved_against_the_feed_url() -> None:
    item = only(rss("<item><title>Torkham</title><link>../2026/torkham</link></item>"))
    assert item[2] == "https://news.example.org/2026/torkham"
    atom = (
        '<feed xmlns="http://www.w3.org/2005/Atom"><title>F</title><entry><title>T</title>'
        '<link rel="alternate" href="/a/1"/><link rel="enclosure" href="/x.mp3"/>'
        "<id>urn:uuid:1</id><updated>2026-08-13T04:24:00+05:00</updated></entry></feed>"
    )
    item = only(atom.encode(), "application/atom+xml")
    assert item[:3] == ("guid:urn:uuid:1", "T", "https://news.example.org/a/1")
    assert item[3] == datetime(2026, 8, 12, 23, 24, tzinfo=UTC)


def test_guid_only_item_takes_its_link_from_a_permalink_guid() -> None:
    item = only(rss("<item><title>Chaman</title><guid>https://n.example.org/1</guid></item>"))
    assert item[:3] == ("guid:https://n.example.org/1", "Chaman", "https://n.example.org/1")
    item = only(rss('<item><title>C</title><guid isPermaLink="false">n-1</guid></item>'))
    assert item[:3] == ("guid:n-1", "C", None)
    # A later <link> wins over the guid; an earlier one is not overwritten by it.
    for order in (
        "<guid>https://g/1</guid><link>https://l/1</link>",
        "<link>https://l/1</link><guid>https://g/1</guid>",
    ):
        assert only(rss(f"<item>{order}</item>"))[2] == "https://l/1"


def test_summary_and_content_follow_feedparser() -> None:
    desc = "<description>Short.</description>"
    media = "<media:description>Caption.</media:description>"
    encoded = "<content:encoded><![CDATA[<p>Full article.</p>]]></content:encoded>"
    assert only(rss(f"<item>{desc}{media}</item>"))[4] == "Short."
    assert only(rss(f"<item>{media}{desc}</item>"))[4] == "Caption."
    assert only(rss(f"<item>{encoded}</item>"))[4] == "Full article."
    assert only(rss(f"<item><description> </description>{encoded}</item>"))[4] == "Full article."
    assert only(rss(f"<item>{encoded}{desc}</item>"))[4] == "Short."


def test_malformed_document_falls_back_to_feedparser() -> None:
    body = rss("<item><title>Tom & Jerry</title><link>https://n.example.org/1</link></item>")
    assert fast_parse(body, URL, "application/xml") is None
    parsed = parse_feed(body, URL, "application/xml")
    assert items(parsed) == items(parse_feed_reference(body, URL, "application/xml"))
    assert [i[1] for i in items(parsed)] == ["Tom & Jerry"]


def test_date_only_feedparser_reads_falls_back() -> None:
    body = rss("<item><title>T</title><pubDate>Thu, 13 Aug 26 04:24:00 GMT</pubDate></item>")
    assert fast_parse(body, URL, "application/xml") is None
    (item,) = items(parse_feed(body, URL, "application/xml"))
    assert item[3] == datetime(2026, 8, 13, 4, 24, tzinfo=UTC)


@pytest.mark.parametrize(
    "body",
    [
        b"<html><body><p>not a feed</p></body></html>",
        b'<?xml version="1.0"?><rss version="2.0"><channel><item>',
        b"plain text",
        b"",
    ],
)
def test_errors_are_feedparsers(body: bytes) -> None:
    def outcome(parse: Callable[[bytes, str, str | None], ParsedFeed]) -> str:
        try:
            parsed = parse(body, URL, "application/xml")
        except FeedError as exc:
            return f"{exc.kind}: {exc.message}"
        return repr(items(parsed))

    assert outcome(parse_feed) == outcome(parse_feed_reference)


@pytest.mark.parametrize(
    ("why", "body", "content_type"),
    [
        ("charset disagrees", rss("<item><title>é</title></item>"), "text/xml; charset=iso-8859-1"),
        ("no charset anywhere", rss("<item><title>é</title></item>", decl=""), None),
        ("xml:base", rss('<item xml:base="https://b/"><link>x</link></item>'), "application/xml"),
        ("RSS 1.0", b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"><item><title>x</title></item></rdf:RDF>', None),
        ("Atom 0.3", b'<feed version="0.3" xmlns="http://purl.org/atom/ns#"><entry><title>x</title></entry></feed>', None),
        ("xhtml title", b'<feed xmlns="http://www.w3.org/2005/Atom"><entry><title type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">x</div></title></entry></feed>', None),
        ("nested media title", rss("<item><media:group><media:title>x</media:title></media:group></item>"), None),
        ("prefix remapped", rss("<item><dc:title>x</dc:title></item>").replace(b"/dc/elements/1.1/", b"/dc/terms/"), None),
        ("doctype", rss("<item><title>x</title></item>", decl='<!DOCTYPE rss SYSTEM "rss.dtd">'), None),
        ("non-ASCII name", rss("<item><title>x</title><\u0374x>y</\u0374x></item>"), None),
    ],
)  # fmt: skip
def test_declines(why: str, body: bytes, content_type: str | None) -> None:
    assert fast_parse(body, URL, content_type) is None, why


# --- Reproduced feedparser internals ----------------------------------------------------

FEEDPARSER_PI_ENCODING = re.compile(rb"""^<\?.*encoding=['"](.*?)['"].*\?>""")


@given(
    st.lists(
        st.sampled_from(
            [b"<?", b"?>", b"encoding=", b"'", b'"', b"utf-8", b"x", b" ", b"\n", b">"]
        ),
        max_size=14,
    )
)
def test_declared_encoding_is_feedparsers_regex(parts: list[bytes]) -> None:
    for data in (b"".join(parts), b"<?" + b"".join(parts)):
        match = FEEDPARSER_PI_ENCODING.match(data)
        assert declared_encoding(data) == (match.group(1) if match else b"")


URL_PARTS = ["http://", "https://", "HTTP://", "a.org", ":8080", "/", "//", "p", ";x", "?", "q=1", "&", "#", "f", " ", "\t", "é", "%20", "[::1]", "@", "\\", "..", "\x85"]  # fmt: skip


@given(st.lists(st.sampled_from(URL_PARTS), max_size=8))
def test_url_resolution_is_feedparsers(parts: list[str]) -> None:
    uri = "".join(parts)
    for base in ("http://example.org/f/x.xml", "https://example.org/"):
        assert fastparse._urljoin(base, uri) == feedparser_urljoin(base, uri)


# --- Generated documents full of feedparser's precedence rules --------------------------

TEXTS = ["", "  ", "Torkham reopens", "caf\u00e9", "caf\u00c3\u00a9", "a \x93quote\x94", "a &amp; b", "<b>bold</b>", "&lt;p&gt;x", "\u067e\u0627\u06a9"]  # fmt: skip
LINKS = ["https://n.example.org/a?b=1&c=2", "/rel/path", "rel", "", " https://n.example.org/sp ", "http:///n.example.org/x", "urn:uuid:1", "https://n.example.org/a?q=&amp;x;"]  # fmt: skip
DATES = ["Thu, 13 Aug 2026 04:24:00 GMT", "13 Aug 2026 04:24 +0530", "Thu, 13 Aug 2026 04:24:00 EDT", "2026-08-13T04:24:00Z", "2026-08-13T04:24:00.5-03:30", "2026-08-13T04:24:00", "", "soon", "1990-01-01T00:00:00Z"]  # fmt: skip
text = st.sampled_from(TEXTS).map(escape)
link = st.sampled_from(LINKS).map(escape)
date = st.sampled_from(DATES)
permalink = st.sampled_from(
    ["", ' isPermaLink="false"', ' isPermaLink="true"', ' isPermaLink="True"']
)
rel = st.sampled_from(
    ["", ' rel="alternate"', ' rel="self"', ' rel="enclosure"', ' rel="ALTERNATE"']
)
link_type = st.sampled_from(
    ["", ' type="text/html"', ' type="application/rss+xml"', ' type="html"']
)
rss_child = st.one_of(
    st.tuples(st.sampled_from(["title", "dc:title", "media:title", "description", "media:description", "dc:description", "content:encoded", "summary", "source", "category"]), text).map(lambda t: f"<{t[0]}>{t[1]}</{t[0]}>"),
    link.map(lambda u: f"<link>{u}</link>"),
    st.tuples(link, rel, link_type).map(lambda t: f'<atom:link href="{t[0]}"{t[1]}{t[2]}/>'),
    st.tuples(permalink, link).map(lambda t: f"<guid{t[0]}>{t[1]}</guid>"),
    st.tuples(st.sampled_from(["pubDate", "dc:date"]), date).map(lambda t: f"<{t[0]}>{t[1]}</{t[0]}>"),
    st.just('<media:content url="https://m.example.org/x.jpg"/>'),
)  # fmt: skip
kind = st.sampled_from(["", ' type="text"', ' type="html"', ' type="text/html"'])
atom_child = st.one_of(
    st.tuples(st.sampled_from(["title", "summary", "content"]), kind, text).map(lambda t: f"<{t[0]}{t[1]}>{t[2]}</{t[0]}>"),
    st.tuples(link, rel, link_type).map(lambda t: f'<link href="{t[0]}"{t[1]}{t[2]}/>'),
    link.map(lambda u: f"<id>{u}</id>"),
    st.tuples(st.sampled_from(["published", "updated"]), date).map(lambda t: f"<{t[0]}>{t[1]}</{t[0]}>"),
    st.just("<author><name>A</name><uri>/a</uri></author>"),
)  # fmt: skip
ATOM_HEAD = '<feed xmlns="http://www.w3.org/2005/Atom" xmlns:media="http://search.yahoo.com/mrss/">'


@st.composite
def documents(draw: st.DrawFn) -> bytes:
    if draw(st.booleans()):
        entries = draw(st.lists(st.lists(rss_child, max_size=7), min_size=1, max_size=3))
        return rss("".join("<item>" + "".join(e) + "</item>" for e in entries))
    entries = draw(st.lists(st.lists(atom_child, max_size=7), min_size=1, max_size=3))
    body = "".join("<entry>" + "".join(e) + "</entry>" for e in entries)
    return f"{ATOM_HEAD}<title>F</title>{body}</feed>".encode()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=documents(), content_type=st.sampled_from(["application/xml", "text/xml", None]))
def test_generated_documents_agree(body: bytes, content_type: str | None) -> None:
    assert_same(body, content_type)


def test_a_feedparser_without_the_tables_the_fast_path_reads_costs_speed_not_feeds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The fast path imports feedparser's own namespace table and handler names; if a
    feedparser release moved them, the import fails and every feed goes to feedparser."""
    import sys

    body = REAL_FEEDS[0].read_bytes()
    expected = items(parse_feed_reference(body, URL, "application/rss+xml"))
    monkeypatch.setitem(sys.modules, "monitor.fastparse", None)  # importing it now fails
    with pytest.raises(ImportError):
        import monitor.fastparse  # noqa: F401
    assert items(parse_feed(body, URL, "application/rss+xml")) == expected
