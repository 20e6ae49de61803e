"""The analyst's desk (`monitor web`): served by uvicorn on 127.0.0.1 over a database filled
by a real pass over recorded feeds, fetched with httpx; its feeds read with feedparser."""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import feedparser
import httpx
import pytest
import sqlalchemy as sa
from conftest import DATA, ROOT, _postgres_url, run, write_config
from servers import FeedServer, Response, free_port

from alembic import command
from monitor.errors import QueryError, WebError
from monitor.search import make_filters
from monitor.store import Store
from monitor.store.engine import alembic_config, make_engine, upgrade
from monitor.web.server import WebServer, parse_listen, wait_started

SEEDS = ROOT / "seeds" / "feeds"
RECORDED = [SEEDS / "geo-news.atom.xml", SEEDS / "the-news-international.rss.xml"]
SCRIPT = "<script>alert(1)</script>"
# The feed parser strips markup from item text, so a script reaches the pages by the feed's
# name (configuration text, stored as written) while the items carry the rest.
HOSTILE_OUTLET = f"Evil <b>outlet</b> {SCRIPT} [/]"
URDU_TITLE = "طورخم سرحد پر فائرنگ کے بعد تجارت معطل، پاکستان اور افغانستان کے تاجر پریشان"


def _text(s: str) -> str:
    """`s` as RSS text: escaped twice, so that the parsed title is `s` itself, markup and all
    (once-escaped markup is HTML to a feed parser, which would strip the script)."""
    return s.replace("&", "&amp;").replace("<", "&amp;lt;").replace(">", "&amp;gt;")


HOSTILE_RSS = (
    '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>x</title>'
    "<link>https://evil.example.org/</link>"
    "<item><guid>h1</guid>"
    f"<title>{_text(SCRIPT + ' [/] TTP attack on check post in North Waziristan [bold]x')}</title>"
    "<link>javascript:alert(1)</link>"
    f"<description>{_text('Militants of the banned TTP attacked a post. ' + SCRIPT)}</description>"
    "<pubDate>Sat, 28 Nov 2026 05:00:00 GMT</pubDate></item>"
    "<item><guid>u1</guid>"
    f"<title>{URDU_TITLE}</title><link>https://urdu.example.org/u1</link>"
    "<description>طورخم پر کشیدگی</description>"
    "<pubDate>Sat, 28 Nov 2026 06:00:00 GMT</pubDate></item>"
    "</channel></rss>"
).encode()


@dataclass
class Desk:
    url: str  # the desk's base URL, ending in /
    db_url: str
    store: Store
    client: httpx.Client

    def get(self, path: str, **kw: object) -> httpx.Response:
        return self.client.get(path, **kw)  # type: ignore[arg-type]


def _fill(tmp: Path, db_url: str, server: FeedServer) -> Path:
    feeds = [
        (p.name, server.feed("/" + p.name, p.read_bytes(), "application/xml")) for p in RECORDED
    ]
    feeds.append((HOSTILE_OUTLET, server.feed("/hostile.xml", HOSTILE_RSS)))
    config = write_config(tmp, db_url=db_url, feeds=feeds)
    result = run(config, "check")
    assert result.exit_code == 0, result.output
    assert "failures: 0" in result.output
    # The parser drops a javascript: link; a database written by an older version or copied
    # from elsewhere may still hold one, and the desk must not make it a link.
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:
            changed = conn.execute(
                sa.text("UPDATE item SET url = 'javascript:alert(1)' WHERE key LIKE '%h1%'")
            ).rowcount
        assert changed == 1
    finally:
        engine.dispose()
    return config


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def desk(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Desk]:
    """One filled database per kind for the module (a pass takes a while), served."""
    tmp = tmp_path_factory.mktemp(f"desk-{request.param}")
    if request.param == "sqlite":
        urls: Iterator[str] = iter([f"sqlite:///{tmp / 'monitor.db'}"])
    else:
        urls = _postgres_url()
    for db_url in urls:
        upgrade(db_url)
        server = FeedServer()
        try:
            _fill(tmp, db_url, server)
        finally:
            server.close()
        store = Store(db_url)
        web = WebServer(store, "127.0.0.1:0")
        web.start()
        wait_started(web)
        with httpx.Client(base_url=web.url, timeout=30) as client:
            yield Desk(web.url, db_url, store, client)
        web.stop()
        store.close()


def _story_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'<a href="/stories/(\d+)"', html)]


def _hostile_story(desk: Desk) -> int:
    found = desk.store.story_page(make_filters(f'outlet:"{HOSTILE_OUTLET}" TTP'))
    assert found.total == 1
    return found.cards[0].id


# -- pages --------------------------------------------------------------------------------


def test_home_lists_stories_by_topic_with_outlets_and_rules(desk: Desk) -> None:
    r = desk.get("/")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    ids = _story_ids(r.text)
    assert len(ids) == 100  # a full first page; the recorded feeds make hundreds of stories
    assert "page 1 of" in r.text
    for topic in ("border", "ttp_militancy"):
        assert f"<h2>{topic}</h2>" in r.text
    assert "first seen" in r.text and "rule" in r.text
    second = _story_ids(desk.get("/?page=2").text)
    assert second and not set(second) & set(ids)
    # a story reported by two outlets names both in its line, as "A, B"
    multi = next(
        c
        for c in desk.store.story_page(make_filters(""), per_page=1000).cards
        if len(c.outlets) >= 2
    )
    page = desk.get("/", params={"outlet": multi.outlets[0], "topic": multi.topics[0]}).text
    assert f"{multi.outlets[0]}, {multi.outlets[1]}" in page


def test_home_filters_topic_outlet_severity_and_dates(desk: Desk) -> None:
    by_store = desk.store.story_page(make_filters(""), per_page=5000).cards
    border = {c.id for c in by_store if "border" in c.topics}
    alerts = {c.id for c in by_store if c.severity == "alert"}
    geo = {c.id for c in by_store if "geo-news.atom.xml" in c.outlets}
    assert border and alerts and geo and len(border) < len(by_store)

    shown = set(_story_ids(desk.get("/", params={"topic": "border"}).text))
    assert shown and shown <= border
    page = desk.get("/", params={"severity": "alert"}).text
    assert set(_story_ids(page)) <= alerts
    assert page.count('class="alert"') >= len(set(_story_ids(page)))
    assert set(_story_ids(desk.get("/", params={"outlet": "geo-news.atom.xml"}).text)) <= geo

    today = datetime.now(UTC).date()
    yesterday = (today - timedelta(days=1)).isoformat()
    assert _story_ids(desk.get("/", params={"until": yesterday}).text) == []
    assert "No stories for these filters" in desk.get("/", params={"until": yesterday}).text
    assert _story_ids(desk.get("/", params={"since": today.isoformat()}).text)
    bad = desk.get("/", params={"since": "last week"})
    assert bad.status_code == 400
    assert "since: expected a date like" in bad.text


def test_story_page_lists_every_report_with_reason_link_and_marked_spans(desk: Desk) -> None:
    card = next(
        c
        for c in desk.store.story_page(make_filters("Torkham"), per_page=50).cards
        if len(c.reports) >= 3
    )
    r = desk.get(f"/stories/{card.id}")
    assert r.status_code == 200
    reports = desk.store.story_reports(card.id)
    assert len(reports) == len(card.reports)
    assert f"{len(reports)} reports" in r.text
    for report in reports:
        assert f'id="report-{report.item_id}"' in r.text
        assert f'href="{report.url}"' in r.text.replace("&amp;", "&")
        assert f"joined: {report.reason}" in r.text
    assert "joined: first report" in r.text
    assert any(rep.reason != "first report" for rep in reports)
    marks = re.findall(r"<mark>([^<]*)</mark>", r.text)
    assert "Torkham" in marks
    assert desk.get("/stories/99999999").status_code == 404


def test_search_finds_ranks_and_pages(desk: Desk) -> None:
    r = desk.get("/search", params={"q": "Pakistan"})
    assert r.status_code == 200
    ids = _story_ids(r.text)
    assert len(ids) == 25  # a full page
    # ranked: the first results carry the word in their headline
    top = desk.store.story_card(ids[0])
    assert top is not None and "pakistan" in top.title.lower()
    total = int(re.search(r"\((\d+) stories\)", r.text)[1])  # type: ignore[index]
    assert total > 25
    page2 = _story_ids(desk.get("/search", params={"q": "Pakistan", "page": "2"}).text)
    assert page2 and not set(page2) & set(ids)
    # every result has a report with the word
    for sid in ids + page2:
        texts = [f"{x.title} {x.summary}".lower() for x in desk.store.story_reports(sid)]
        assert any("pakistan" in t for t in texts)


def test_search_phrase_outlet_topic_and_dates(desk: Desk) -> None:
    phrase = _story_ids(desk.get("/search", params={"q": '"North Waziristan"'}).text)
    words = desk.store.story_page(make_filters("North Waziristan"), per_page=1000)
    assert phrase and len(phrase) <= words.total
    for sid in phrase:
        texts = [f"{x.title} {x.summary}".lower() for x in desk.store.story_reports(sid)]
        assert any("north waziristan" in t for t in texts)
    # field filters in the query and as parameters give the same stories
    inline = _story_ids(
        desk.get("/search", params={"q": "Torkham topic:border outlet:geo-news.atom.xml"}).text
    )
    params = _story_ids(
        desk.get(
            "/search", params={"q": "Torkham", "topic": "border", "outlet": "geo-news.atom.xml"}
        ).text
    )
    assert inline and inline == params
    for sid in inline:
        card = desk.store.story_card(sid)
        assert card is not None and "border" in card.topics and "geo-news.atom.xml" in card.outlets
    future = (datetime.now(UTC).date() + timedelta(days=2)).isoformat()
    assert _story_ids(desk.get("/search", params={"q": "Torkham", "since": future}).text) == []


def test_search_in_urdu_script(desk: Desk) -> None:
    r = desk.get("/search", params={"q": "طورخم"})
    assert r.status_code == 200
    assert URDU_TITLE in r.text
    assert URDU_TITLE in desk.get("/search", params={"q": '"تجارت معطل"'}).text
    assert URDU_TITLE not in desk.get("/search", params={"q": '"معطل تجارت"'}).text


def test_a_query_that_cannot_be_read_says_where(desk: Desk) -> None:
    r = desk.get("/search", params={"q": 'Torkham "border closed'})
    assert r.status_code == 400
    assert "at character 9" in r.text and "never closed" in r.text
    assert '<span class="at">&#34;</span>' in r.text
    r = desk.get("/search", params={"q": "since:yesterday Torkham"})
    assert r.status_code == 400 and "since: expected a date" in r.text
    assert desk.get("/search", params={"q": "x", "page": "0"}).status_code == 400
    assert desk.get("/stories.atom", params={"q": '"open'}).status_code == 400


def test_hostile_feed_text_is_inert_on_every_page(desk: Desk) -> None:
    sid = _hostile_story(desk)
    reports = desk.store.story_reports(sid)
    # the database holds the hostile text as the feed gave it (else this test proves nothing)
    assert SCRIPT in reports[0].outlet and "[/]" in reports[0].title
    assert reports[0].url is not None and reports[0].url.startswith("javascript:")
    pages = [
        "/",
        f"/stories/{sid}",
        "/search?q=TTP+attack",
        "/search?q=TTP&outlet=" + quote(HOSTILE_OUTLET),
        "/feeds",
        "/digests",
        "/stories.atom?q=TTP",
        "/stories.json?q=TTP",
    ]
    for path in pages:
        r = desk.get(path)
        assert r.status_code == 200, path
        assert "<script" not in r.text.lower(), path
        assert "javascript:" not in " ".join(re.findall(r'href="([^"]*)"', r.text)), path
        csp = r.headers["content-security-policy"]
        assert "script-src 'none'" in csp and "unsafe-inline" not in csp
        assert r.headers["x-content-type-options"] == "nosniff"
    story = desk.get(f"/stories/{sid}").text
    assert "Evil &lt;b&gt;outlet&lt;/b&gt; &lt;script&gt;alert(1)&lt;/script&gt; [/]" in story
    assert "[/] TTP attack" in story and "[bold]x" in story  # Rich markup is only text here
    assert "(no link: javascript:alert(1))" in story
    home = desk.get("/", params={"outlet": HOSTILE_OUTLET}).text
    assert "&lt;script&gt;" in home and "<b>outlet</b>" not in home
    # the feeds carry it as text too: a reader sees the characters, never runs them
    parsed = feedparser.parse(desk.get("/stories.atom?q=TTP").content)
    hostile = next(e for e in parsed.entries if e.id.endswith(f"/{sid}"))
    assert "javascript:" not in " ".join(link.href for link in hostile.links)


def test_only_get(desk: Desk) -> None:
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        for path in ("/", "/search", "/stories.atom"):
            assert desk.client.request(method, path).status_code == 405
    assert desk.client.head("/").status_code == 200


def test_feeds_and_digests_pages(desk: Desk) -> None:
    page = desk.get("/feeds").text
    for h in desk.store.feed_health():
        assert h.name.replace("<", "&lt;").replace(">", "&gt;") in page
    assert "geo-news.atom.xml" in page and "ok" in page
    ledger = desk.store.digests()
    assert ledger  # `check` delivers a digest to the outbox
    page = desk.get("/digests").text
    for d in ledger:
        assert f"<td>{d.id}</td><td>{d.recipient}</td><td>{d.kind}</td>" in page
        assert f"<td>{d.status}" in page


# -- feeds of stories -----------------------------------------------------------------------


def parse_json_feed(body: bytes) -> list[dict[str, Any]]:
    """The items of a JSON Feed 1.1 document, its required fields checked (the installed
    feedparser reads Atom and RSS, not JSON Feed)."""
    doc = json.loads(body)
    assert doc["version"] == "https://jsonfeed.org/version/1.1"
    assert doc["title"] and doc["feed_url"].startswith("http://127.0.0.1:")
    for item in doc["items"]:
        assert isinstance(item["id"], str) and item["id"]
        assert item["content_html"] and item["url"].startswith("http://127.0.0.1:")
        datetime.fromisoformat(item["date_modified"])
    items: list[dict[str, Any]] = doc["items"]
    return items


def test_atom_and_json_feeds_of_a_search(desk: Desk) -> None:
    search = desk.get("/search", params={"q": "Torkham", "topic": "border"}).text
    assert 'href="/stories.atom?q=Torkham&amp;topic=border"' in search
    atom = desk.get("/stories.atom", params={"q": "Torkham", "topic": "border"})
    assert atom.headers["content-type"].startswith("application/atom+xml")
    parsed = feedparser.parse(atom.content)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    entries = parsed.entries
    assert 0 < len(entries) <= 50
    ids = [e.id for e in entries]
    assert len(set(ids)) == len(ids) and all(i.startswith("tag:") for i in ids)
    first = desk.store.story_card(int(ids[0].rsplit("/", 1)[1]))
    assert first is not None and "border" in first.topics
    assert entries[0].title == first.title
    related = [link.href for link in entries[0].links if link.rel == "related"]
    assert related == [r.url for r in first.reports if r.url]
    assert entries[0].link.endswith(f"/stories/{first.id}")

    jf = desk.get("/stories.json", params={"q": "Torkham", "topic": "border"})
    assert jf.headers["content-type"].startswith("application/feed+json")
    jitems = parse_json_feed(jf.content)
    assert [e["id"] for e in jitems] == ids
    assert jitems[0]["_frontier_monitor"]["reports"][0]["url"] == first.reports[0].url
    alerts = feedparser.parse(desk.get("/stories.atom", params={"severity": "alert"}).content)
    assert alerts.entries and all("ALERT" in e.summary for e in alerts.entries)


def test_conditional_get_gives_304(desk: Desk) -> None:
    for path in ("/stories.atom", "/stories.json?topic=border"):
        first = desk.get(path)
        etag, last = first.headers["etag"], first.headers["last-modified"]
        again = desk.get(path, headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b""
        assert desk.get(path, headers={"If-Modified-Since": last}).status_code == 304
        assert desk.get(path, headers={"If-None-Match": '"other"'}).status_code == 200
        earlier = "Mon, 01 Jan 2001 00:00:00 GMT"
        assert desk.get(path, headers={"If-Modified-Since": earlier}).status_code == 200


def _second_changes() -> None:
    # Feed times are whole seconds: the next pass must store its report in a later one.
    start = int(time.time())
    while int(time.time()) == start:
        time.sleep(0.05)


def test_feed_ids_stay_while_updated_moves_when_a_report_joins(
    tmp_path: Path, feed_server: FeedServer, db_url: str
) -> None:
    title = "Torkham border crossing closed after firing between Pakistani and Afghan forces"
    first = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>a</title><link>https://a.example.org/</link>'
        f"<item><guid>a1</guid><title>{title}</title><link>https://a.example.org/1</link>"
        "<description>Traders stranded at Torkham after the firing.</description>"
        "<pubDate>Sat, 28 Nov 2026 05:00:00 GMT</pubDate></item></channel></rss>"
    ).encode()
    empty = b'<?xml version="1.0"?><rss version="2.0"><channel><title>b</title><link>https://b.example.org/</link></channel></rss>'
    copy = first.replace(b"a.example.org", b"b.example.org").replace(b"a1", b"b1")
    one = feed_server.feed("/one.xml", first)
    two = feed_server.route(
        "/two.xml",
        Response(200, empty, {"Content-Type": "application/rss+xml"}),
        Response(200, copy, {"Content-Type": "application/rss+xml"}),
    )
    config = write_config(tmp_path, db_url=db_url, feeds=[("Outlet A", one), ("Outlet B", two)])
    assert run(config, "check").exit_code == 0
    store = Store(db_url)
    web = WebServer(store, "127.0.0.1:0")
    web.start()
    try:
        wait_started(web)
        with httpx.Client(base_url=web.url) as client:
            atom1 = client.get("/stories.atom")
            json1 = parse_json_feed(client.get("/stories.json").content)
            before = feedparser.parse(atom1.content)
            assert len(before.entries) == 1
            _second_changes()
            result = run(config, "check", "--all")
            assert result.exit_code == 0, result.output
            after = feedparser.parse(client.get("/stories.atom").content)
            json2 = parse_json_feed(client.get("/stories.json").content)
            stale = client.get("/stories.atom", headers={"If-None-Match": atom1.headers["etag"]})
    finally:
        web.stop()
        store.close()
    assert [e.id for e in after.entries] == [e.id for e in before.entries]
    assert [e["id"] for e in json2] == [e["id"] for e in json1]
    entry0, entry1 = before.entries[0], after.entries[0]
    assert entry1.updated_parsed > entry0.updated_parsed
    assert json2[0]["date_modified"] > json1[0]["date_modified"]
    assert [a["name"] for a in json2[0]["authors"]] == ["Outlet A", "Outlet B"]
    assert entry1.published == entry0.published
    assert [c.name for c in entry1.contributors] == ["Outlet A", "Outlet B"]
    assert [link.href for link in entry1.links if link.rel == "related"] == [
        "https://a.example.org/1",
        "https://b.example.org/1",
    ]
    assert stale.status_code == 200  # the old ETag no longer matches


# -- search index, migration ------------------------------------------------------------------


def test_migration_indexes_existing_rows_and_goes_down_and_up(
    tmp_path: Path, feed_server: FeedServer, db_url: str
) -> None:
    mehr = DATA / "feeds" / "mehr-news-english_mehr.xml"
    feeds = [("Geo", feed_server.feed("/geo.xml", RECORDED[0].read_bytes(), "application/xml"))]
    feeds.append(("Mehr", feed_server.feed("/mehr.xml", mehr.read_bytes(), "application/xml")))
    assert run(write_config(tmp_path, db_url=db_url, feeds=feeds), "check").exit_code == 0
    store = Store(db_url)
    try:
        before = store.story_page(make_filters("Torkham"), per_page=1000)
        assert before.total > 0
    finally:
        store.close()
    cfg = alembic_config(db_url)
    command.downgrade(cfg, "d6e4a2c8f1b3")  # the index goes; the stored items stay
    engine = make_engine(db_url)
    try:
        names = set(sa.inspect(engine).get_table_names())
        columns = {c["name"] for c in sa.inspect(engine).get_columns("item")}
        assert "item_fts" not in names and "search_vector" not in columns
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM item")).scalar_one() > 500
    finally:
        engine.dispose()
    command.upgrade(cfg, "head")  # builds the index for the rows already stored
    store = Store(db_url)
    try:
        after = store.story_page(make_filters("Torkham"), per_page=1000)
        assert [c.id for c in after.cards] == [c.id for c in before.cards]
        # retention deletes rows: the index follows in the same transaction
        assert store.prune(datetime.now(UTC) + timedelta(days=1), datetime.now(UTC)) > 0
        assert store.story_page(make_filters("Torkham")).total == 0
    finally:
        store.close()


# -- serving ----------------------------------------------------------------------------------


def test_refuses_to_listen_beyond_loopback(tmp_path: Path, sqlite_url: str) -> None:
    for listen in ("0.0.0.0:8080", "192.0.2.10:8080", "[::]:8080", "example.org:8080"):
        with pytest.raises(WebError, match="refusing to serve the web view"):
            parse_listen(listen)
    assert parse_listen("127.0.0.1:8080") == ("127.0.0.1", 8080)
    assert parse_listen("[::1]:9000") == ("::1", 9000)
    assert parse_listen("localhost:1") == ("localhost", 1)
    with pytest.raises(WebError, match="expected HOST:PORT"):
        parse_listen("8080")
    config = write_config(tmp_path, db_url=sqlite_url)
    result = run(config, "web", "--listen", "0.0.0.0:8080")
    assert result.exit_code == 2
    assert "refusing to serve the web view on 0.0.0.0" in result.output
    bad = write_config(tmp_path, db_url=sqlite_url, extra='[web]\nlisten = "0.0.0.0:8080"\n')
    result = run(bad, "web")
    assert result.exit_code == 2 and "web.listen: refusing" in result.output


def test_monitor_web_as_a_process(tmp_path: Path, sqlite_url: str) -> None:
    port = free_port()
    config = write_config(tmp_path, db_url=sqlite_url)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "monitor",
            "--config",
            str(config),
            "web",
            "--listen",
            f"127.0.0.1:{port}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/feeds", timeout=5)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
                assert time.monotonic() < deadline, "monitor web did not start"
                time.sleep(0.1)
        assert r.status_code == 200 and "<h1>Feeds</h1>" in r.text
        assert "content-security-policy" in r.headers
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=15)
    assert proc.returncode == 0
    assert f"serving the desk on http://127.0.0.1:{port}/" in out.decode()


def test_query_language_is_read_exactly() -> None:
    f = make_filters('Torkham "border  crossing" outlet:"Dawn — Pakistan" since:2026-08-01 -- ')
    assert f.words == ("Torkham",) and f.phrases == (("border", "crossing"),)
    assert f.outlet == "Dawn — Pakistan" and str(f.since) == "2026-08-01"
    assert make_filters("10:30 AND NEAR").words == ("10:30", "AND", "NEAR")
    with pytest.raises(QueryError, match="at character 5: this quote is never closed"):
        make_filters('abc "def')
    with pytest.raises(QueryError, match="topic: needs a value"):
        make_filters("topic: x")
    with pytest.raises(QueryError, match=r"since \(2026-09-01\) is after until"):
        make_filters("since:2026-09-01 until:2026-08-01")
    with pytest.raises(QueryError, match="severity: expected one of alert, digest"):
        make_filters("x", severity="urgent")


def test_the_daemon_serves_the_desk_when_web_listen_is_set(
    tmp_path: Path, feed_server: FeedServer, sqlite_url: str
) -> None:
    from conftest import RELEVANT_RSS

    port = free_port()
    config = write_config(
        tmp_path,
        db_url=sqlite_url,
        feeds=[("Outlet", feed_server.feed("/f.xml", RELEVANT_RSS))],
        extra=f'[daemon]\npoll_seconds = 0.5\n[web]\nlisten = "127.0.0.1:{port}"\n',
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor", "--config", str(config), "run"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        page = ""
        while "Torkham border crossing closed" not in page:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            assert time.monotonic() < deadline, "the daemon's desk never showed the story"
            with contextlib.suppress(httpx.TransportError):
                page = httpx.get(f"http://127.0.0.1:{port}/", timeout=5).text
            time.sleep(0.1)
        assert "<h2>border</h2>" in page
    finally:
        proc.terminate()
        proc.communicate(timeout=30)
    assert proc.returncode == 0
