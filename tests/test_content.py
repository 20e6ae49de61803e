"""faults.md cases 14–22: broken or hostile content, identity and retention."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
from conftest import run, write_config
from fetchutil import scalar, texts
from servers import FeedServer, Response

from monitor.store import Store
from monitor.store.engine import make_engine

URDU = "پاکستان اور افغانستان کی سرحد پر طورخم کراسنگ بند"
PASHTO = "د تورخم لاره وتړل شوه"
DARI = "گذرگاه تورخم بسته شد"


def rss_items(items: str, encoding: str = "utf-8") -> str:
    return (
        f'<?xml version="1.0" encoding="{encoding}"?><rss version="2.0"><channel>'
        f"<title>t</title><link>https://news.example.org/</link>{items}</channel></rss>"
    )


def item(
    guid: str | None, title: str, desc: str = "", link: str | None = None, **extra: str
) -> str:
    g = f"<guid>{guid}</guid>" if guid else ""
    lk = link if link is not None else f"https://news.example.org/{guid or title[:8]}"
    more = "".join(f"<{k}>{v}</{k}>" for k, v in extra.items())
    return (
        f"<item>{g}<title>{title}</title><link>{lk}</link>"
        f"<description>{desc}</description>{more}</item>"
    )


def check(tmp_path: Path, db_url: str, url: str, *args: str) -> str:
    config = write_config(tmp_path, db_url=db_url, feeds=[("f", url)])
    result = run(config, "check", "--all", *args)
    assert result.exit_code == 0, result.output
    return result.output


def titles(db_url: str) -> list[str]:
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            import sqlalchemy as sa

            return [r[0] for r in conn.execute(sa.text("SELECT title FROM item ORDER BY id"))]
    finally:
        engine.dispose()


def test_urdu_pashto_dari_round_trip(tmp_path: Path, feed_server: FeedServer, db_url: str) -> None:
    body = rss_items(item("u1", URDU, PASHTO) + item("u2", DARI, "")).encode()
    check(tmp_path, db_url, feed_server.feed("/ur.xml", body, "application/rss+xml; charset=utf-8"))
    assert titles(db_url) == [URDU, DARI]
    assert (
        scalar(db_url, "SELECT summary FROM item WHERE title = :t".replace(":t", f"'{URDU}'"))
        == PASHTO
    )


@pytest.mark.parametrize(
    ("name", "body", "ctype"),
    [
        ("header disagrees", rss_items(item("h1", URDU)).encode(), "text/xml; charset=iso-8859-1"),
        (
            "invalid utf-8",
            rss_items(item("i1", "Chaman \xff\xfe crossing")).encode("latin-1"),
            "application/xml",
        ),
        (
            "nul and controls",
            rss_items(item("n1", "Bad\x00ly\x07 formed\x1b title")).encode(),
            "application/xml",
        ),
        (
            "utf-16 without bom",
            rss_items(item("w1", URDU), "utf-16").encode("utf-16-le"),
            "application/xml",
        ),
        ("bare cr and del", rss_items(item("c1", "a\rb\x7fc")).encode(), "application/xml"),
    ],
)
def test_broken_encodings_store_valid_utf8(
    name: str, body: bytes, ctype: str, tmp_path: Path, feed_server: FeedServer, db_url: str
) -> None:  # case 14
    check(tmp_path, db_url, feed_server.feed("/enc.xml", body, ctype))
    for text in texts(db_url):
        text.encode("utf-8")  # raises on lone surrogates
        assert "\x00" not in text and not any(ord(c) < 32 or 127 <= ord(c) < 160 for c in text)


def test_script_never_becomes_active(
    tmp_path: Path, feed_server: FeedServer, sqlite_url: str
) -> None:
    evil = (  # case 15
        item(
            "s1",
            "TTP attack &lt;script&gt;alert(1)&lt;/script&gt; in Bannu",
            "&lt;img src=x onerror=alert(1) srcset='javascript:alert(2) 1x'&gt;Militants "
            "&amp;lt;script&amp;gt;alert(3)&amp;lt;/script&amp;gt; attacked",
            link="javascript:alert(4)",
            author="&lt;a href='javascript:alert(5)'&gt;x&lt;/a&gt;",
        )
        + item(
            "s2",
            "<![CDATA[<b>Torkham</b> <iframe src=//evil>closed</iframe>]]>",
            "<![CDATA[<p onclick=x>Torkham crossing</p>]]>",
        )
    )
    config = write_config(
        tmp_path,
        db_url=sqlite_url,
        feeds=[("evil", feed_server.feed("/e.xml", rss_items(evil).encode()))],
    )
    run(config, "check")
    stored = texts(sqlite_url)
    assert stored and not any("<" in t and ">" in t for t in stored), stored
    assert not any(t.lower().startswith("javascript:") for t in stored)
    preview = run(config, "digest", "preview")
    html = Path(preview.output.split()[0]).read_text().lower()
    for bad in ("<script", "onerror", "onclick", "javascript:", "<iframe", "srcset"):
        assert bad not in html, bad
    assert 'href="http' in html or "href='http" in html or "href" not in html


def test_absurd_dates_are_clamped(tmp_path: Path, feed_server: FeedServer, sqlite_url: str) -> None:
    hour_ahead = datetime.now(UTC) + timedelta(hours=1)
    items = (  # case 16
        item("d1", "missing")
        + item("d2", "garbage", pubDate="not a date at all")
        + item("d3", "far future", pubDate="Fri, 31 Dec 9999 23:59:59 GMT")
        + item("d4", "epoch", pubDate="Thu, 01 Jan 1970 00:00:00 GMT")
        + item("d5", "impossible", pubDate="Mon, 31 Feb 2026 25:61:00 GMT")
        + item("d6", "an hour ahead", pubDate=format_datetime(hour_ahead, usegmt=True))
    )
    before = datetime.now(UTC)
    check(tmp_path, sqlite_url, feed_server.feed("/d.xml", rss_items(items).encode()))
    assert scalar(sqlite_url, "SELECT count(*) FROM item") == 6
    with Store(sqlite_url) as store:
        engine = store.engine
        import sqlalchemy as sa

        with engine.connect() as conn:
            rows = dict(conn.execute(sa.text("SELECT title, published FROM item")).all())
    assert rows["missing"] is None and rows["garbage"] is None and rows["epoch"] is None
    assert rows["far future"] is None  # beyond a day ahead: no date, like year 1970
    ahead = datetime.fromisoformat(str(rows["an hour ahead"])).replace(tzinfo=UTC)
    assert before - timedelta(seconds=5) <= ahead <= datetime.now(UTC) + timedelta(seconds=1)


def test_duplicate_guids_in_one_document_are_all_kept(
    tmp_path: Path, feed_server: FeedServer, db_url: str
) -> None:  # case 17
    body = rss_items(
        item("same", "First story", "a", link="https://n.example.org/1")
        + item("same", "Second story", "b", link="https://n.example.org/2")
        + item("same", "Third story", "c", link="https://n.example.org/3")
        + item("same", "First story", "a", link="https://n.example.org/1")
    ).encode()
    url = feed_server.feed("/dup.xml", body)
    check(tmp_path, db_url, url)
    assert sorted(titles(db_url)) == ["First story", "Second story", "Third story"]
    assert "new items: 0" in check(tmp_path, db_url, url)


def test_missing_guids_get_a_stable_identity(
    tmp_path: Path, feed_server: FeedServer, db_url: str
) -> None:
    rss = rss_items(item(None, "No guid RSS", "x") + item(None, "No guid, no link", "y", link=""))
    atom = (  # case 18
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        "<title>a</title><entry><title>Atom without id</title>"
        '<link href="https://news.example.org/atom1"/><summary>z</summary></entry>'
        "<entry><title>Atom without id or link</title><summary>w</summary></entry></feed>"
    )
    r = feed_server.feed("/r.xml", rss.encode())
    a = feed_server.feed("/a.xml", atom.encode(), "application/atom+xml")
    config = write_config(tmp_path, db_url=db_url, feeds=[("r", r), ("a", a)])
    assert "new items: 4" in run(config, "check").output
    assert "new items: 0" in run(config, "check", "--all").output


def test_regenerated_guids_add_nothing(
    tmp_path: Path, feed_server: FeedServer, db_url: str
) -> None:
    counter = iter(range(10**6))  # case 19

    def regenerated(_req: object) -> Response:
        n = next(counter)
        body = rss_items(
            item(
                f"urn:uuid:{n}-a",
                "Chaman clash",
                "Firing at Chaman",
                link="https://n.example.org/c",
            )
            + item(
                f"urn:uuid:{n}-b", "Torkham shut", "Trade halted", link="https://n.example.org/t"
            )
        )
        return Response(200, body.encode(), {"Content-Type": "application/rss+xml"})

    url = feed_server.route("/regen.xml", regenerated)
    config = write_config(tmp_path, db_url=db_url, feeds=[("regen", url)])
    assert "new items: 2" in run(config, "check").output
    assert "new items: 0" in run(config, "check", "--all").output
    assert "new items: 0" in run(config, "check", "--all").output
    assert scalar(db_url, "SELECT count(*) FROM story") <= 2


def test_edited_and_reordered_items_are_not_new(
    tmp_path: Path, feed_server: FeedServer, db_url: str
) -> None:
    a, b = item("e1", "TTP attack in Bannu", "first version"), item("e2", "Torkham closed", "x")
    edited = item("e1", "TTP attack in Bannu", "second version, with casualty figures")
    url = feed_server.route(  # case 20
        "/edit.xml",
        Response(200, rss_items(a + b).encode()),
        Response(200, rss_items(edited + b).encode()),
        Response(200, rss_items(b + edited).encode()),
    )
    config = write_config(tmp_path, db_url=db_url, feeds=[("edit", url)])
    run(config, "check")
    assert "new items: 0" in run(config, "check", "--all").output
    assert "new items: 0" in run(config, "check", "--all").output
    sent = run(config, "digest", "send")
    assert sent.exit_code == 0
    assert "nothing new" in run(config, "digest", "send").output


def test_pruned_items_leave_tombstones(
    tmp_path: Path, feed_server: FeedServer, db_url: str
) -> None:
    old, fresh = item("t1", "Old TTP story", "x"), item("t2", "New Torkham story", "y")
    url = feed_server.route(  # case 21
        "/short.xml",
        Response(200, rss_items(old + fresh).encode()),
        Response(200, rss_items(fresh).encode()),
        Response(200, rss_items(old + fresh).encode()),
    )
    config = write_config(tmp_path, db_url=db_url, feeds=[("short", url)])
    run(config, "check")
    run(config, "check", "--all")  # the old item has left the feed
    with Store(db_url) as store:
        now = datetime.now(UTC)
        assert store.prune(now + timedelta(seconds=1), now) == 2
    assert scalar(db_url, "SELECT count(*) FROM item") == 0
    assert "new items: 0" in run(config, "check", "--all").output  # it came back: not new
    assert scalar(db_url, "SELECT count(*) FROM item_tombstone") == 2
    assert "pruned 0 items" in run(config, "db", "prune", "--days", "30").output


def test_failed_fetch_between_good_ones_changes_nothing(
    tmp_path: Path, feed_server: FeedServer, db_url: str
) -> None:  # case 22
    body = rss_items(item("g1", "TTP attack", "x") + item("g2", "Chaman clash", "y")).encode()
    url = feed_server.route(
        "/flaky.xml", Response(200, body), Response(500, b"down"), Response(200, body)
    )
    config = write_config(tmp_path, db_url=db_url, feeds=[("flaky", url)])
    assert "new items: 2" in run(config, "check").output
    assert "failures: 1" in run(config, "check", "--all").output
    assert scalar(db_url, "SELECT count(*) FROM item") == 2
    assert "new items: 0" in run(config, "check", "--all").output
    assert scalar(db_url, "SELECT error_streak FROM feed") == 0
