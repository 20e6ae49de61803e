"""Stories end to end: `monitor check` clusters reports across outlets, digests deliver
stories (not items) once, and the update rule re-sends a story once when a fact changes."""

from __future__ import annotations

import email
import sys
from datetime import UTC, datetime, timedelta
from email import policy
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from tests.conftest import run, write_config
from tests.servers import FeedServer

NOW = datetime.now(UTC)


def feed(*items: tuple[str, str, str, float]) -> bytes:
    """RSS from (guid, title, description, hours before now) tuples."""
    body = "".join(
        f"<item><guid>{g}</guid><title>{t}</title><link>https://news.example.org/{g}</link>"
        f"<description>{d}</description>"
        f"<pubDate>{(NOW - timedelta(hours=h)).strftime('%a, %d %b %Y %H:%M:%S GMT')}</pubDate>"
        "</item>"
        for g, t, d, h in items
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
        f"<link>https://news.example.org/</link>{body}</channel></rss>"
    ).encode()


GEO_CLASH = (
    "geo-1",
    "Pakistan Army retaliates after Afghan forces open unprovoked fire along border",
    "Afghan forces resorted to unprovoked firing across multiple locations along the border.",
    30.0,
)
DAWN_CLASH = (
    "dawn-1",
    "Violent clashes erupt along Pak-Afghan border",
    "Violent clashes erupted along the Pak-Afghan border after unprovoked attacks by Afghan "
    "Taliban forces targeted multiple posts, with the Pakistan Army retaliating strongly.",
    29.0,
)
DAWN_NEXT_DAY = (
    "dawn-2",
    "Army responds to unprovoked fire by Afghan Taliban at Kurram border",
    "Fighting flared up again between Pakistani forces and the Afghan Taliban in Kurram.",
    1.0,
)
NEWS_CLASH = (
    "news-1",
    "Pakistan Army gives befitting response to Afghan forces' unprovoked firing",
    "The army responded to unprovoked firing by Afghan forces along the border.",
    28.0,
)


def _digest_text(outbox: Path) -> list[str]:
    out = []
    for path in sorted(outbox.glob("*-digest-*.eml")):
        msg = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        out.append(msg.get_body(("plain",)).get_content())
    return out


def test_reworded_reports_join_one_story_and_the_next_day_is_another(
    tmp_path: Path, feed_server: FeedServer, db_url: str
) -> None:
    geo = feed_server.feed("/geo.xml", feed(GEO_CLASH))
    dawn = feed_server.feed("/dawn.xml", feed(DAWN_CLASH, DAWN_NEXT_DAY))
    config = write_config(tmp_path, db_url=db_url, feeds=[("Geo", geo), ("Dawn", dawn)])
    assert run(config, "check").exit_code == 0
    engine = sa.create_engine(db_url)
    with engine.connect() as conn:  # a story's times, as its first report's (SQLite: text)
        same = conn.execute(
            sa.text(
                "SELECT DISTINCT s.first_seen = i.fetched AND s.published = i.published"
                " FROM story AS s JOIN item AS i ON i.story_id = s.id"
                " WHERE i.story_reason = 'first report'"
            )
        ).scalars()
        assert [bool(x) for x in same] == [True]
    engine.dispose()

    listed = run(config, "stories", "list", "--since", "24h")
    assert listed.exit_code == 0, listed.output
    assert listed.output.count("outlet") == 2  # two stories
    assert "2 outlets (Geo, Dawn)" in listed.output or "2 outlets (Dawn, Geo)" in listed.output
    story_id = next(
        line.split()[0]
        for line in listed.output.splitlines()
        if "retaliates" in line or "Violent clashes" in line
    )
    shown = run(config, "stories", "show", story_id)
    assert shown.exit_code == 0, shown.output
    assert "first report" in shown.output
    assert "same event (clash" in shown.output or "headline words" in shown.output
    assert "https://news.example.org/geo-1" in shown.output
    assert run(config, "stories", "show", "999999").exit_code != 0

    sent = run(config, "digest", "send")
    assert sent.exit_code == 0, sent.output
    (text,) = _digest_text(tmp_path / "outbox")
    assert "Dawn, Geo" in text or "Geo, Dawn" in text
    assert "Kurram" in text

    # A third outlet joins the delivered story: it is not delivered again.
    feed_server.feed("/news.xml", feed(NEWS_CLASH))
    config = write_config(
        tmp_path,
        db_url=db_url,
        feeds=[("Geo", geo), ("Dawn", dawn), ("The News", feed_server.url("/news.xml"))],
    )
    assert run(config, "check", "--all").exit_code == 0
    assert "3 outlets" in run(config, "stories", "list").output
    assert "nothing new" in run(config, "digest", "send").output


UPDATE_FIRST = (
    "dawn-u1",
    "8 killed as Afghan forces open unprovoked fire on border posts in Kurram",
    "Eight people were killed when Afghan forces opened unprovoked fire in Kurram.",
    6.0,
)
UPDATE_LATER = (
    "geo-u1",
    "Death toll in unprovoked Afghan firing on Kurram border posts rises, 12 killed",
    "Twelve people were killed after Afghan forces opened unprovoked fire in Kurram.",
    3.0,
)


def _update_run(tmp_path: Path, feed_server: FeedServer, url: str, updates: bool) -> list[str]:
    dawn = feed_server.feed("/dawn-u.xml", feed(UPDATE_FIRST))
    extra = f"[stories]\nupdates = {'true' if updates else 'false'}\n"
    config = write_config(tmp_path, db_url=url, feeds=[("Dawn", dawn)], extra=extra)
    assert run(config, "check").exit_code == 0
    assert run(config, "digest", "send").exit_code == 0
    geo = feed_server.feed("/geo-u.xml", feed(UPDATE_LATER))
    config = write_config(tmp_path, db_url=url, feeds=[("Dawn", dawn), ("Geo", geo)], extra=extra)
    assert run(config, "check", "--all").exit_code == 0
    assert "2 outlets" in run(config, "stories", "list").output  # one story either way
    run(config, "digest", "send")
    run(config, "digest", "send")  # the update goes once
    return _digest_text(tmp_path / "outbox")


def test_update_rule_on_sends_the_story_once_more(
    tmp_path: Path, feed_server: FeedServer, sqlite_url: str
) -> None:
    texts = _update_run(tmp_path, feed_server, sqlite_url, updates=True)
    assert len(texts) == 2
    assert "update" not in texts[0]
    assert "update: casualty figure rose from 8 to 12" in texts[1]
    assert "Dawn, Geo" in texts[1]


def test_update_rule_off_never_sends_a_story_twice(
    tmp_path: Path, feed_server: FeedServer, sqlite_url: str
) -> None:
    texts = _update_run(tmp_path, feed_server, sqlite_url, updates=False)
    assert len(texts) == 1


def test_stories_config_is_validated(tmp_path: Path, sqlite_url: str) -> None:
    bad = write_config(tmp_path, db_url=sqlite_url, extra="[stories]\nnear_threshold = 2\n")
    result = run(bad, "stories", "list")
    assert result.exit_code != 0 and "stories.near_threshold" in result.output
    unknown = write_config(tmp_path, db_url=sqlite_url, extra="[stories]\nwindow = 3\n")
    assert "stories.window" in run(unknown, "stories", "list").output


def test_round_and_toll_settings_are_read_and_validated(tmp_path: Path, sqlite_url: str) -> None:
    for extra, key in (
        ("round_span_hours = 0", "stories.round_span_hours"),
        ("figure_hours = -1", "stories.figure_hours"),
        ("figure_min = 0", "stories.figure_min"),
        ("figure_min = 2.5", "stories.figure_min"),
    ):
        bad = write_config(tmp_path, db_url=sqlite_url, extra=f"[stories]\n{extra}\n")
        result = run(bad, "stories", "list")
        assert result.exit_code != 0 and key in result.output, extra
    good = write_config(
        tmp_path,
        db_url=sqlite_url,
        extra="[stories]\nround_span_hours = 24\nfigure_hours = 1.5\nfigure_min = 5\n",
    )
    assert run(good, "stories", "list").exit_code == 0


def feed_and_story(session: Any, first_seen: datetime) -> tuple[int, int]:
    """An outlet and a story to hang story-index rows on: (feed id, story id)."""
    from monitor.store import tables as t

    feed = t.Feed(url="https://example.org/feed", name="Outlet")
    story = t.Story(title="A story", first_seen=first_seen)
    session.add_all([feed, story])
    session.flush()
    assert feed.id is not None and story.id is not None
    return feed.id, story.id


def test_story_lookup_takes_the_newest_reports_of_each_key_and_any_number_of_keys(
    db_url: str,
) -> None:
    """The database index caps each key at the newest MAX_POSTINGS reports, as the in-memory
    index does, honours the window, and answers for more keys than one query can carry."""
    from sqlmodel import Session

    from monitor.cluster.index import MAX_POSTINGS
    from monitor.store import Store
    from monitor.store import tables as t
    from monitor.store.stories import DbStoryIndex, NeighbourCache, key_time

    base = datetime(2026, 11, 1, tzinfo=UTC)
    store = Store(db_url)
    with Session(store.engine) as s:
        feed_id, story_id = feed_and_story(s, base)

        def report(n: int, key: str, published: datetime) -> int:
            item = t.Item(
                feed_id=feed_id, key=f"k{n}", title=f"Report {n} on {key}",
                fetched=published, published=published, content_hash=f"{n:064d}",
            )  # fmt: skip
            s.add(item)
            s.flush()
            assert item.id is not None
            when = key_time(published)
            s.add(t.StoryKey(key=key, story_id=story_id, item_id=item.id, published=when))
            return item.id

        common = [
            report(n, "common", base + timedelta(minutes=n)) for n in range(MAX_POSTINGS + 10)
        ]
        rare = [report(1000 + n, f"rare{n}", base + timedelta(hours=1)) for n in range(520)]
        old = report(5000, "rare0", base - timedelta(days=5))
        s.commit()
    with store.engine.connect() as conn:
        index = DbStoryIndex(conn, NeighbourCache())
        found, _ = index.candidates(["common"], base - timedelta(days=1))
        assert [int(n.item_key) for n in found] == common[-MAX_POSTINGS:]  # newest, oldest first
        # More keys than SQLite takes in one compound SELECT (500):
        found, _ = index.candidates([f"rare{n}" for n in range(520)], base - timedelta(days=1))
        assert sorted(int(n.item_key) for n in found) == rare
        assert old not in {int(n.item_key) for n in found}  # outside the window
        assert all(n.story_id == story_id and n.fingerprint.title_words for n in found)
    store.close()


def test_a_pass_finds_its_own_and_other_writers_rows_as_the_database_would(
    db_url: str,
) -> None:
    """Within a story pass, rows written since it began come from memory (RecentKeys): the
    pass's own and, read at the next story transaction, another writer's. Every lookup
    must give what the database alone gives, newest MAX_POSTINGS per key included."""
    from sqlmodel import Session

    from monitor.cluster import fingerprint
    from monitor.cluster.index import MAX_POSTINGS, index_keys
    from monitor.store import Store
    from monitor.store import tables as t
    from monitor.store.stories import DbStoryIndex, NeighbourCache, key_time

    base = datetime(2026, 11, 1, tzinfo=UTC)
    store = Store(db_url)
    places = ["Chaman", "Kurram", "Bajaur", "Khyber", "Zhob", "Tirah"]
    reports: dict[int, tuple[str, datetime]] = {}  # item id → (title, published)
    with Session(store.engine) as s:
        feed_id, story_id = feed_and_story(s, base)
        for n in range(160):
            # Shared word pairs (more than MAX_POSTINGS reports under some keys), and times
            # that interleave the phases below.
            title = f"Torkham crossing clash near {places[n % 6]} leaves traders {n % 7} stranded"
            published = base + timedelta(minutes=(n * 37) % 160)
            item = t.Item(
                feed_id=feed_id, key=f"k{n}", title=title, url=f"https://example.org/{n}",
                fetched=published, published=published, content_hash=f"{n:064d}",
            )  # fmt: skip
            s.add(item)
            s.flush()
            assert item.id is not None
            reports[item.id] = (title, published)
        s.commit()
    ids = sorted(reports)

    def post(index: DbStoryIndex, item_ids: list[int]) -> None:
        for i in item_ids:
            title, published = reports[i]
            index.add(
                story_id, str(i), f"https://example.org/{i}", fingerprint(title, ""), published
            )

    def same_as_database(conn: sa.Connection, recent: DbStoryIndex) -> int:
        plain = DbStoryIndex(conn, NeighbourCache())
        compared = 0
        for i in ids[::7]:
            title, published = reports[i]
            keys = index_keys(f"https://example.org/{i}", fingerprint(title, ""))
            for since in (base - timedelta(days=1), published - timedelta(minutes=30)):
                mine, theirs = recent.candidates(keys, since), plain.candidates(keys, since)
                assert [n.item_key for n in mine.neighbours] == [
                    n.item_key for n in theirs.neighbours
                ]
                assert mine.shared == theirs.shared
                compared += len(theirs.neighbours)
        return compared

    with store.engine.begin() as conn:
        post(DbStoryIndex(conn, NeighbourCache()), ids[:50])  # before the pass
    with store.story_pass():
        recent = store._recent
        with store.engine.begin() as conn:
            recent.sync(conn)
            assert recent.base is not None and recent.base > 0
            index = DbStoryIndex(conn, NeighbourCache(), recent)
            post(index, ids[50:110])  # this pass's own rows, in memory too
            index.flush()  # as the end of a story transaction does
            assert same_as_database(conn, index) > 0
            recent.settle(conn)
        with store.engine.begin() as conn:  # another writer, between two of ours
            post(DbStoryIndex(conn, NeighbourCache()), ids[110:])
        with store.engine.begin() as conn:
            recent.sync(conn)
            index = DbStoryIndex(conn, NeighbourCache(), recent)
            assert same_as_database(conn, index) > 0
            assert recent.longest() == MAX_POSTINGS  # the cap was exercised
    with store.engine.connect() as conn:  # each row's time, in whole seconds
        written = conn.execute(
            sa.text("SELECT k.item_id, k.published FROM story_key AS k ORDER BY k.id")
        )
        assert {i: p for i, p in written} == {i: key_time(p) for i, (_, p) in reports.items()}
    store.close()


def test_cached_neighbours_compare_as_their_full_fingerprints() -> None:
    """The neighbour cache keeps fingerprints slim and with interned words; what decide
    reads of them is unchanged."""
    from monitor.cluster import fingerprint
    from monitor.store.stories import _slim

    full = fingerprint(
        "Torkham crossing reopens after 3 days; traders in Landi Kotal relieved",
        "طورخم بارڈر تین دن بعد کھول دیا گیا۔ Trucks crossed at Torkham on Friday.",
    )
    slim = _slim(full)
    for field in (
        "title_tokens", "lead_tokens", "title_words", "text_words", "places", "title_places",
        "numbers", "title_numbers", "exact_key", "event", "title_weight", "text_weight",
        "identity",
    ):  # fmt: skip
        assert getattr(slim, field) == getattr(full, field), field
    assert full.band_keys and full.signature
    assert not (slim.band_keys or slim.signature)
    assert all(w is sys.intern(w) for w in slim.text_words)


def test_story_key_times_are_whole_utc_seconds() -> None:
    from datetime import timezone

    from monitor.store.stories import key_time

    utc = datetime(2026, 11, 28, 5, 0, 0, 900_000, tzinfo=UTC)
    karachi = utc.astimezone(timezone(timedelta(hours=5)))
    assert key_time(utc) == key_time(karachi) == 1795842000  # the instant, cut to seconds
    assert key_time(utc.replace(tzinfo=None)) == 1795842000  # naive is UTC, as in clustering
