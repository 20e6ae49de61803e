"""Analysts' feedback in the store and on the command line: a split applied at once and
kept by later clustering, `monitor feedback list`, and label files that the eval commands
read (SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from monitor.errors import FeedbackError
from monitor.store import Store
from tests.conftest import run, write_config
from tests.servers import FeedServer
from tests.test_stories import DAWN_CLASH, GEO_CLASH, feed

WHEN = datetime(2026, 12, 8, 3, 0, tzinfo=UTC)
NEWS_COPY = ("news-copy", DAWN_CLASH[1], DAWN_CLASH[2], 20.0)  # the split report, reworded nil


def _stories(db_url: str) -> dict[str, int]:
    engine = sa.create_engine(db_url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT key, story_id FROM item")).all()
    engine.dispose()
    return {key: story for key, story in rows}


def test_a_split_is_applied_at_once_and_kept_by_later_clustering(
    tmp_path: Path, feed_server: FeedServer, db_url: str
) -> None:
    geo = feed_server.feed("/geo.xml", feed(GEO_CLASH))
    dawn = feed_server.feed("/dawn.xml", feed(DAWN_CLASH))
    config = write_config(tmp_path, db_url=db_url, feeds=[("Geo", geo), ("Dawn", dawn)])
    assert run(config, "check").exit_code == 0
    before = _stories(db_url)
    geo_key = next(k for k in before if "geo-1" in k)
    dawn_key = next(k for k in before if "dawn-1" in k)
    story = before[geo_key]
    assert before[dawn_key] == story  # one story of two outlets

    with Store(db_url) as store:
        engine = sa.create_engine(db_url)
        with engine.connect() as conn:
            dawn_id = conn.execute(
                sa.text("SELECT id FROM item WHERE key = :k"), {"k": dawn_key}
            ).scalar_one()
        engine.dispose()
        with pytest.raises(FeedbackError, match=f"no story {story + 99}"):
            store.split_report(story + 99, dawn_id, "ayesha", WHEN)
        new = store.split_report(story, dawn_id, "ayesha", WHEN, note="a different clash")
        assert new != story
        with pytest.raises(FeedbackError, match="only report"):
            store.split_report(new, dawn_id, "ayesha", WHEN)
        with pytest.raises(FeedbackError, match=f"report {dawn_id} is not in story {story}"):
            store.split_report(story, dawn_id, "ayesha", WHEN)
        assert [r.item_id for r in store.story_items(new)] == [dawn_id]
        assert "split out of story" in store.story_items(new)[0].reason

    # A later pass: a third outlet carries the split report's text. It joins the split
    # report's story, and the geo report stays alone: the pair is not re-joined.
    news = feed_server.feed("/news.xml", feed(NEWS_COPY))
    config = write_config(
        tmp_path, db_url=db_url, feeds=[("Geo", geo), ("Dawn", dawn), ("News", news)]
    )
    assert run(config, "check", "--all").exit_code == 0
    after = _stories(db_url)
    news_key = next(k for k in after if "news-copy" in k)
    assert after[geo_key] == story
    assert after[dawn_key] == new
    assert after[news_key] == new

    listed = run(config, "feedback", "list")
    assert listed.exit_code == 0, listed.output
    assert f"split report {dawn_id} out of story {story} into {new}" in listed.output
    assert "ayesha" in listed.output and "a different clash" in listed.output


def test_a_report_cached_before_a_split_is_seen_in_its_new_story(db_url: str) -> None:
    """Another process (the desk) splits a report the daemon has cached: the daemon's next
    lookup places neighbours by the index rows, not by its cache."""
    from sqlmodel import Session

    from monitor.cluster import fingerprint
    from monitor.store import tables as t
    from monitor.store.stories import DbStoryIndex, NeighbourCache
    from tests.test_stories import feed_and_story

    daemon, desk = Store(db_url), Store(db_url)
    with Session(daemon.engine) as s:
        feed_id, story_id = feed_and_story(s, WHEN)
        ids = []
        for n, title in enumerate((GEO_CLASH[1], DAWN_CLASH[1])):
            item = t.Item(
                feed_id=feed_id, key=f"k{n}", title=title, url=f"https://example.org/{n}",
                fetched=WHEN, published=WHEN, content_hash=f"{n:064d}", story_id=story_id,
            )  # fmt: skip
            s.add(item)
            s.flush()
            assert item.id is not None
            ids.append(item.id)
        s.commit()
    cache = NeighbourCache()
    fp = fingerprint(DAWN_CLASH[1], "")
    with daemon.engine.begin() as conn:
        index = DbStoryIndex(conn, cache)
        for i, title in zip(ids, (GEO_CLASH[1], DAWN_CLASH[1]), strict=True):
            index.add(story_id, str(i), f"https://example.org/{i}", fingerprint(title, ""), WHEN)
    new = desk.split_report(story_id, ids[1], "ayesha", WHEN)
    with daemon.engine.connect() as conn:
        found = DbStoryIndex(conn, cache).candidates(fp.band_keys, WHEN - timedelta(days=1))
    stories = {n.item_key: n.story_id for n in found.neighbours}
    assert stories[str(ids[1])] == new
    daemon.close()
    desk.close()


def test_feedback_exports_label_files_the_eval_commands_read(
    tmp_path: Path, feed_server: FeedServer, db_url: str
) -> None:
    geo = feed_server.feed("/geo.xml", feed(GEO_CLASH))
    dawn = feed_server.feed("/dawn.xml", feed(DAWN_CLASH))
    config = write_config(tmp_path, db_url=db_url, feeds=[("Geo", geo), ("Dawn", dawn)])
    assert run(config, "check").exit_code == 0
    keys = _stories(db_url)
    story = next(iter(keys.values()))
    with Store(db_url) as store:
        (geo_row,) = [r for r in store.story_items(story) if "geo-1" in (r.link or "")]
        dawn_row = next(r for r in store.story_items(story) if r.item_id != geo_row.item_id)
        store.split_report(story, dawn_row.item_id, "bilal", WHEN)
        store.mark_not_relevant(story, "ayesha", WHEN + timedelta(minutes=1))
        store.mark_missed(
            "ayesha", WHEN, url="https://news.example.org/dawn-1", topic="border", note="x"
        )
        store.mark_missed("ayesha", WHEN, url="https://elsewhere.example.org/gone")
        with pytest.raises(FeedbackError, match="no stored item 999999"):
            store.mark_missed("ayesha", WHEN, item_id=999999)
        with pytest.raises(FeedbackError, match="no story 999999"):
            store.mark_not_relevant(999999, "ayesha", WHEN)

    out = tmp_path / "labels"
    exported = run(config, "feedback", "export", str(out))
    assert exported.exit_code == 0, exported.output
    assert "not exported: missed item https://elsewhere.example.org/gone" in exported.output
    with (out / "relevance.csv").open(newline="", encoding="utf-8") as fh:
        relevance = {r["id"]: r for r in csv.DictReader(fh)}
    # The geo report's story was marked not relevant; the dawn report was split out of it
    # before, and marked missed (relevant, border) after.
    assert relevance[str(geo_row.item_id)]["relevant"] == "0"
    assert relevance[str(dawn_row.item_id)]["relevant"] == "1"
    assert relevance[str(dawn_row.item_id)]["topic"] == "border"
    assert relevance[str(geo_row.item_id)]["title"] == GEO_CLASH[1]
    with (out / "stories.csv").open(newline="", encoding="utf-8") as fh:
        labels = {r["id"]: r["story"] for r in csv.DictReader(fh)}
    assert labels[str(geo_row.item_id)] != labels[str(dawn_row.item_id)]

    rules = run(config, "rules", "eval", str(out / "relevance.csv"))
    assert rules.exit_code == 0, rules.output
    stories = run(config, "stories", "eval", str(out / "stories.csv"))
    assert stories.exit_code == 0, stories.output
    # The clusterer joins the pair the analyst split: one false merge, measured.
    assert "precision" in stories.output.lower()


def test_a_story_marked_not_relevant_labels_the_reports_it_had_then() -> None:
    from monitor.feedback import relevance_rows
    from monitor.store import FeedbackRow, LabelRow

    def fb(i: int, kind: str, story: int, item: int | None = None) -> FeedbackRow:
        return FeedbackRow(
            i, kind, story, item, 99 if kind == "split" else None, None, "", "", "a", WHEN
        )

    def report(item: int, story: int) -> LabelRow:
        return LabelRow(item, story, "Geo", WHEN, None, f"title {item}", "")

    reports = [report(1, 10), report(2, 99), report(3, 20), report(4, 98)]
    feedback = [
        fb(1, "split", 10, 2),  # split out of story 10 before it was marked: not labelled
        fb(2, "not_relevant", 10),
        fb(3, "not_relevant", 20),
        fb(4, "split", 20, 4),  # split out after: it was in the story as marked
    ]
    labels = {row[0]: row[6] for row in relevance_rows(feedback, reports)}
    assert labels == {"1": "0", "3": "0", "4": "0"}


def test_a_missed_url_with_tracking_parameters_finds_its_stored_item(
    tmp_path: Path, feed_server: FeedServer, sqlite_url: str
) -> None:
    dawn = feed_server.feed("/dawn.xml", feed(DAWN_CLASH))
    config = write_config(tmp_path, db_url=sqlite_url, feeds=[("Dawn", dawn)])
    assert run(config, "check").exit_code == 0
    shared = "https://news.example.org/dawn-1?utm_source=whatsapp&utm_medium=share"
    with Store(sqlite_url) as store:
        store.mark_missed("ayesha", WHEN, url=shared)
        (row,) = store.feedback()
        (item,) = [r for s in _stories(sqlite_url).values() for r in store.story_items(s)]
    assert row.item_id == item.item_id
