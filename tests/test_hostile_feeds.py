"""Issue #18: one hostile feed never stops a pass. Each case is served beside a good feed
through the real pipeline (`monitor check`): the pass finishes, the good feed's items are
stored, and the hostile feed gets its own items or a failure that says what was wrong."""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from conftest import RELEVANT_RSS, rss, run, write_config
from fetchutil import scalar
from servers import FeedServer, Response

from monitor import sources
from monitor.owners import died_here
from monitor.store import Store

RSS = {"Content-Type": "application/rss+xml"}
GOOD_ITEMS = 3  # RELEVANT_RSS


def health(db_url: str) -> dict[str, tuple[float, str | None, int]]:
    """Per feed: seconds until its next check, its last error and its error streak."""
    now = datetime.now(UTC)
    with Store(db_url) as store:
        return {
            h.name: (
                (h.next_check - now).total_seconds() if h.next_check else -1.0,
                h.last_error,
                h.error_streak,
            )
            for h in store.feed_health()
        }


def items_of(db_url: str, feed: str) -> int:
    return int(
        scalar(
            db_url,
            "SELECT count(*) FROM item JOIN feed ON feed.id = item.feed_id "
            f"WHERE feed.name = '{feed}'",
        )
    )


def check_beside_a_good_feed(
    tmp_path: Path, feed_server: FeedServer, db_url: str, feeds: list[tuple[str, str]]
) -> str:
    """`monitor check --all` over `feeds` and a good feed: the pass must finish and store the
    good feed's items. Returns what the command printed."""
    good = ("good", feed_server.feed("/good.xml", RELEVANT_RSS))
    config = write_config(tmp_path, db_url=db_url, feeds=[good, *feeds])
    result = run(config, "check", "--all")
    assert result.exit_code == 0, result.output
    assert items_of(db_url, "good") == GOOD_ITEMS, result.output
    return result.output


def test_huge_server_waits_are_capped_at_a_day(
    tmp_path: Path, feed_server: FeedServer, sqlite_url: str
) -> None:
    body = rss(("w1", "Curfew in Bajaur", "Officials said."))
    far_date = "Fri, 31 Dec 9999 23:59:59 GMT"
    feeds = [
        ("age", feed_server.feed("/age.xml", body, **{"Cache-Control": "max-age=99999999999999"})),
        ("long", feed_server.feed("/long.xml", body, **{"Cache-Control": "max-age=" + "9" * 400})),
        ("secs", feed_server.route("/s.xml", Response(503, b"", {"Retry-After": "9" * 14}))),
        ("date", feed_server.route("/d.xml", Response(503, b"", {"Retry-After": far_date}))),
        # "²" is a digit to str.isdigit (sent as Latin-1, as httpx then reads it) but not a number
        ("sup", feed_server.route("/sup.xml", Response(503, b"", {"Retry-After": "²"}))),
    ]
    check_beside_a_good_feed(tmp_path, feed_server, sqlite_url, feeds)
    assert items_of(sqlite_url, "age") == 1 and items_of(sqlite_url, "long") == 1
    state = health(sqlite_url)
    for name in ("age", "long", "secs", "date"):
        assert 86000 < state[name][0] <= 86400, (name, state[name])  # the one-day cap
    for name in ("secs", "date", "sup"):
        assert (state[name][1] or "").startswith("HTTP 503"), (name, state[name])
    assert state["sup"][0] <= 1800  # no wait was read from it: the usual back-off


def test_next_check_clamps_any_server_wait_before_building_a_timedelta() -> None:
    now = datetime(2026, 12, 1, tzinfo=UTC)
    for wait in (1e14, 1e300, float("inf")):
        assert sources.next_check(now, 30, max_age=wait) == now + sources.MAX_WAIT
        assert sources.next_check(now, 30, error_streak=2, retry_after=wait) == (
            now + sources.MAX_WAIT
        )


def test_a_matching_title_with_an_ethiopic_digit_is_stored_and_matched(
    tmp_path: Path, feed_server: FeedServer, sqlite_url: str
) -> None:
    # "፩" is a digit to str.isdigit, and int() refuses it; the story fingerprint read numbers.
    odd = rss(("e1", "TTP attack on check post in North Waziristan ፩ ²", "Militants attacked."))
    feeds = [("odd", feed_server.feed("/odd.xml", odd))]
    output = check_beside_a_good_feed(tmp_path, feed_server, sqlite_url, feeds)
    assert "failures: 0" in output and items_of(sqlite_url, "odd") == 1, output
    assert scalar(
        sqlite_url, "SELECT count(*) FROM item WHERE title LIKE '%፩%' AND story_id IS NOT NULL"
    )


def test_a_lease_owner_with_a_non_ascii_digit_pid_is_not_ours() -> None:
    assert died_here(f"{socket.gethostname()}:፩:x") is False
    assert died_here(f"{socket.gethostname()}:²:x") is False


def test_dates_at_the_ends_of_the_calendar_are_no_date(
    tmp_path: Path, feed_server: FeedServer, sqlite_url: str
) -> None:
    # In UTC these are years 10000 and 0: converting them overflows.
    dates = {"late": "9999-12-31T23:59:59-01:00", "early": "0001-01-01T00:00:00+01:00"}
    dates["fine"] = "2026-11-28T05:00:00+05:00"
    items = [
        {"id": name, "title": f"Kurram report {name}", "date_published": when}
        for name, when in dates.items()
    ]
    items.append({"id": "mod", "title": "Kurram update", "date_modified": dates["late"]})
    doc = {"version": "https://jsonfeed.org/version/1.1", "title": "J", "items": items}
    atom = (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        "<title>A</title><entry><id>a1</id><title>Chaman crossing</title>"
        f"<updated>{dates['late']}</updated></entry></feed>"
    ).encode()
    feeds = [
        ("json", feed_server.feed("/j.json", json.dumps(doc).encode(), "application/feed+json")),
        ("atom", feed_server.feed("/a.xml", atom, "application/atom+xml")),
    ]
    output = check_beside_a_good_feed(tmp_path, feed_server, sqlite_url, feeds)
    assert "failures: 0" in output, output
    assert items_of(sqlite_url, "json") == 4 and items_of(sqlite_url, "atom") == 1
    dated = scalar(sqlite_url, "SELECT group_concat(title) FROM item WHERE published IS NOT NULL")
    assert "Kurram report fine" in dated and "Kurram report late" not in dated
    assert "Kurram report early" not in dated and "Kurram update" not in dated
    assert "Chaman" not in dated


def test_json_nested_too_deeply_or_with_a_huge_number_is_refused(
    tmp_path: Path, feed_server: FeedServer, sqlite_url: str
) -> None:
    head = '{"version": "https://jsonfeed.org/version/1.1", "title": "J", '
    deep = (head + '"items": ' + "[" * 100_000 + "]" * 100_000 + "}").encode()
    digits = (head + '"items": [], "n": ' + "7" * 5000 + "}").encode()
    feeds = [
        ("deep", feed_server.feed("/deep.json", deep, "application/feed+json")),
        ("digits", feed_server.feed("/digits.json", digits, "application/feed+json")),
    ]
    output = check_beside_a_good_feed(tmp_path, feed_server, sqlite_url, feeds)
    assert "failures: 2" in output, output
    state = health(sqlite_url)
    assert state["deep"][1] == "not a feed: JSON nested too deeply to read"
    assert (state["digits"][1] or "").startswith("not a feed: invalid JSON (Exceeds the limit")
    assert state["deep"][2] == state["digits"][2] == 1


def test_a_document_of_250001_items_keeps_the_first_5000(
    tmp_path: Path, feed_server: FeedServer, sqlite_url: str
) -> None:
    many = "".join(f"<item><title>t{n}</title></item>" for n in range(250_001))
    body = f'<rss version="2.0"><channel><title>M</title>{many}</channel></rss>'.encode()
    assert len(body) < 10 * 1024 * 1024  # under the size cap: only the item cap applies
    feeds = [("many", feed_server.feed("/many.xml", body))]
    output = check_beside_a_good_feed(tmp_path, feed_server, sqlite_url, feeds)
    assert "failures: 0" in output, output
    assert "feed 'many': kept the first 5,000 of 250,001 items" in output
    assert items_of(sqlite_url, "many") == 5000
    titles = "SELECT count(*) FROM item WHERE title IN ('t0', 't4999', 't5000', 't250000')"
    assert scalar(sqlite_url, titles) == 2  # the first 5,000 in document order: t0 to t4999
    assert scalar(sqlite_url, "SELECT count(*) FROM item WHERE title = 't4999'") == 1


def test_a_non_ascii_validator_is_not_sent_back(
    tmp_path: Path, feed_server: FeedServer, sqlite_url: str
) -> None:
    # Header values go out as Latin-1 (http.server), so httpx reads "café" back.
    odd = {**RSS, "ETag": '"café-v1"', "Last-Modified": "Sat, 28 Nov 2026 05:00:00 GMT ü"}
    first = rss(("v1", "Curfew in Bajaur", "Officials said."))
    second = rss(("v2", "Curfew lifted in Bajaur", "Officials said."))
    url = feed_server.route("/v.xml", Response(200, first, odd), Response(200, second, odd))
    for _ in range(2):
        output = check_beside_a_good_feed(tmp_path, feed_server, sqlite_url, [("odd", url)])
        assert "failures: 0" in output, output
    assert items_of(sqlite_url, "odd") == 2
    sent = [r.headers for r in feed_server.requests if r.path == "/v.xml"]
    assert len(sent) == 2 and not any(
        "if-none-match" in h or "if-modified-since" in h for h in sent
    )
    assert scalar(sqlite_url, "SELECT count(*) FROM feed WHERE etag IS NOT NULL") == 0
    # One stored before validators were checked is not sent either.
    engine_sql = "UPDATE feed SET etag = '\"café\"', last_modified = 'ü' WHERE name = 'odd'"
    with Store(sqlite_url) as store, store.engine.begin() as conn:
        conn.execute(sa.text(engine_sql))
    output = check_beside_a_good_feed(tmp_path, feed_server, sqlite_url, [("odd", url)])
    assert "failures: 0" in output, output
    last = [r.headers for r in feed_server.requests if r.path == "/v.xml"][-1]
    assert "if-none-match" not in last and "if-modified-since" not in last
