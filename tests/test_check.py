"""`monitor check`: one pass over real and broken feeds served on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import DATA, ROOT, rss, run, write_config
from servers import FeedServer, Response

from monitor.store import Store
from monitor.store.engine import make_engine

SEEDS = ROOT / "seeds" / "feeds"
RELEVANT = rss(
    (
        "a1",
        "TTP attack on check post in North Waziristan",
        "Militants of the banned TTP attacked a post.",
    ),
    ("a2", "Torkham border crossing closed after firing", "Traders stranded at Torkham."),
    ("a3", "Cricket: Pakistan beat Sri Lanka", "A fine win in Lahore."),
)


def count(url: str, table: str) -> int:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())
    finally:
        engine.dispose()


def test_pass_over_recorded_real_feeds_is_idempotent(
    tmp_path: Path, feed_server: FeedServer, db_url: str
) -> None:
    feeds = []
    for path in [
        *sorted(DATA.glob("feeds/*T0927Z.xml")),
        SEEDS / "dawn.rss.xml",
        SEEDS / "geo-news.atom.xml",
        SEEDS / "bbc-urdu-most-read.json",
        DATA / "feeds" / "nytimes-world_nyt.xml",
    ]:
        ctype = "application/json" if path.suffix == ".json" else "application/xml"
        feeds.append((path.name, feed_server.feed("/" + path.name, path.read_bytes(), ctype)))
    config = write_config(tmp_path, db_url=db_url, feeds=feeds)

    first = run(config, "check")
    assert first.exit_code == 0, first.output
    items = count(db_url, "item")
    assert items > 2000  # Dawn and Geo alone carry ~2,400 recorded items
    assert count(db_url, "item_match") > 100
    assert "failures: 0" in first.output
    assert "new matches: 0" not in first.output

    second = run(config, "check", "--all")
    assert second.exit_code == 0, second.output
    assert count(db_url, "item") == items
    assert "new items: 0" in second.output


def test_broken_feeds_never_stop_the_pass(
    tmp_path: Path, feed_server: FeedServer, db_url: str
) -> None:
    good = feed_server.feed("/good.xml", RELEVANT)
    error = feed_server.route("/500.xml", Response(500, b"oops"))
    garbage = feed_server.feed("/garbage.xml", b"\x00\xff this is not a feed at all", "text/html")
    path_body = feed_server.feed("/path.xml", b"/etc/passwd", "text/plain")
    missing = feed_server.url("/missing.xml")
    config = write_config(
        tmp_path,
        db_url=db_url,
        feeds=[
            ("500", error),
            ("good", good),
            ("garbage", garbage),
            ("path", path_body),
            ("missing", missing),
        ],
    )
    result = run(config, "check")
    assert result.exit_code == 0, result.output
    assert "failures: 4" in result.output
    assert (
        "HTTP 500" in result.output
        and "HTTP 404" in result.output
        and "not a feed" in result.output
    )
    assert "TTP attack on check post" in result.output
    assert "Cricket" not in result.output  # stored, but no rule matches it
    assert count(db_url, "item") == 3
    with Store(db_url) as store:
        health = {h.name: h for h in store.feed_health()}
    assert (
        health["500"].error_streak == 1
        and health["500"].last_error == "HTTP 500 Internal Server Error"
    )
    assert health["good"].error_streak == 0 and health["good"].last_success is not None
    listing = run(config, "feeds", "list")
    assert "failing since" in listing.output


def test_dry_run_stores_nothing_and_feed_option_limits(
    tmp_path: Path, feed_server: FeedServer, db_url: str
) -> None:
    a = feed_server.feed("/a.xml", RELEVANT)
    b = feed_server.feed("/b.xml", rss(("b1", "Chaman border reopens", "Trade resumes at Chaman.")))
    config = write_config(tmp_path, db_url=db_url, feeds=[("A", a), ("B", b)])
    dry = run(config, "check", "--dry-run")
    assert dry.exit_code == 0 and "dry run" in dry.output and "Torkham" in dry.output
    assert count(db_url, "item") == 0
    only_b = run(config, "check", "--feed", "B")
    assert "feeds polled: 1" in only_b.output and "Chaman border reopens" in only_b.output
    assert feed_server.hits["/a.xml"] == 1 and feed_server.hits["/b.xml"] == 2
    unknown = run(config, "check", "--feed", "nope")
    assert unknown.exit_code == 2 and "no feed named 'nope'" in unknown.output


def test_schedule_and_conditional_get(
    tmp_path: Path, feed_server: FeedServer, sqlite_url: str
) -> None:
    url = feed_server.route(
        "/etag.xml",
        Response(200, RELEVANT, {"Content-Type": "application/rss+xml", "ETag": '"v1"'}),
        Response(304),
    )
    config = write_config(tmp_path, db_url=sqlite_url, feeds=[("E", url)])
    assert "feeds polled: 1" in run(config, "check").output
    assert "feeds polled: 0" in run(config, "check").output  # not due again for 30 minutes
    second = run(config, "check", "--all")
    assert "not modified: 1" in second.output and "new items: 0" in second.output
    assert feed_server.requests[-1].headers.get("if-none-match") == '"v1"'
    assert "frontiermonitor" in feed_server.requests[0].headers["user-agent"].lower()


def test_not_modified_answers_keep_the_connection(
    tmp_path: Path, feed_server: FeedServer, sqlite_url: str
) -> None:
    feeds = [
        (
            f"E{n}",
            feed_server.route(
                f"/etag{n}.xml",
                Response(200, RELEVANT, {"Content-Type": "application/rss+xml", "ETag": '"v1"'}),
                Response(304, b"", {"ETag": '"v1"'}),
            ),
        )
        for n in range(6)
    ]
    config = write_config(tmp_path, db_url=sqlite_url, feeds=feeds)
    assert "feeds polled: 6" in run(config, "check").output
    before = feed_server.connections
    assert "not modified: 6" in run(config, "check", "--all").output
    # One client per pass, at most two requests at a time to this host: two connections,
    # each reused after a 304 rather than one connection per feed.
    assert feed_server.connections - before <= 2


def test_rules_explain_a_stored_item(
    tmp_path: Path, feed_server: FeedServer, sqlite_url: str
) -> None:
    feed = feed_server.feed("/x.xml", RELEVANT)
    config = write_config(tmp_path, db_url=sqlite_url, feeds=[("Dawn", feed)])
    run(config, "check")
    engine = make_engine(sqlite_url)
    with engine.connect() as conn:
        ttp_id = conn.execute(
            sa.text("SELECT id FROM item WHERE title LIKE 'TTP attack%'")
        ).scalar_one()
        cricket_id = conn.execute(
            sa.text("SELECT id FROM item WHERE title LIKE 'Cricket%'")
        ).scalar_one()
    engine.dispose()
    shown = run(config, "rules", "explain", str(ttp_id))
    assert shown.exit_code == 0, shown.output
    assert "recorded when stored" in shown.output and "with the current rules" in shown.output
    assert "version" in shown.output and "TTP" in shown.output
    none = run(config, "rules", "explain", str(cricket_id))
    assert "No rule fired when it was stored." in none.output and "No rule fires." in none.output
    missing = run(config, "rules", "explain", "999999")
    assert missing.exit_code == 1 and "no item 999999" in missing.output


def test_pass_table_stops_at_show_and_says_how_many_more(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from datetime import UTC, datetime

    from monitor.models import Item, Match, NewMatch, PassReport
    from monitor.report import print_pass

    now = datetime(2026, 1, 1, tzinfo=UTC)
    matched = tuple(
        NewMatch(
            Item(1, f"k{i}", None, f"Headline number {i}", "", now, now, f"h{i}", "Dawn"),
            (Match("r", "border"),),
        )
        for i in range(7)
    )
    report = PassReport(feeds_polled=1, new_items=7, new_matches=7, matched=matched)
    print_pass(report, show=5)
    out = capsys.readouterr().out
    assert sum(f"Headline number {i}" in out for i in range(7)) == 5
    assert "and 2 more" in out
    print_pass(report, show=7)
    out = capsys.readouterr().out
    assert all(f"Headline number {i}" in out for i in range(7))
    assert "more" not in out


def test_a_pass_keeps_for_its_table_only_the_newest_of_each_topic(
    tmp_path: Path, feed_server: FeedServer, db_url: str
) -> None:
    # Six matching items of one topic, published a day apart: `--show 2` lists the two
    # newest, though the feed lists them oldest first, and counts all six.
    items = "".join(
        f"<item><guid>d{day}</guid><title>Torkham border crossing closed, day {day}</title>"
        f"<link>https://news.example.org/d{day}</link><description>Traders stranded.</description>"
        f"<pubDate>{day:02d} Nov 2026 05:00:00 GMT</pubDate></item>"
        for day in range(1, 7)
    )
    body = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T</title>'
        f"<link>https://news.example.org/</link>{items}</channel></rss>"
    ).encode()
    feed = feed_server.feed("/t.xml", body)
    config = write_config(tmp_path, db_url=db_url, feeds=[("t", feed)])
    result = run(config, "check", "--show", "2")
    assert result.exit_code == 0, result.output
    assert "new matches: 6" in result.output
    assert [day for day in range(1, 7) if f"day {day}" in result.output] == [5, 6]
    assert "and 4 more" in result.output
    assert count(db_url, "item_match") >= 6  # all stored, whatever the table lists

    # What the pass holds for its table, asked of the pipeline itself (a second database).
    from monitor.match import Matcher
    from monitor.pipeline import poll
    from monitor.settings import load_settings

    other = tmp_path / "other"
    other.mkdir()
    settings = load_settings(
        write_config(other, db_url=f"sqlite:///{other / 'm.db'}", feeds=[("t", feed)])
    )
    assert run(settings.path, "db", "upgrade").exit_code == 0
    with Store(settings.database_url) as store:
        store.sync_feeds(settings.feeds)
        matcher = Matcher.from_file(settings.rules_path)
        report = poll(settings, store, matcher, ignore_schedule=True, listed=2)
    assert report.new_matches == 6
    assert sorted(nm.item.title[-5:] for nm in report.matched) == ["day 5", "day 6"]
    assert all(nm.item.summary == "" for nm in report.matched)
