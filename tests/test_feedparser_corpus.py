"""feedparser's own corpus (~2,200 well- and ill-formed feeds) through fetch → parse →
normalize → store, served from 127.0.0.1. Nothing is downloaded here: `make test` runs
scripts/get_feedparser_corpus.py first; without the corpus this test fails and says so."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import FEEDPARSER_CORPUS as CORPUS
from conftest import feedparser_corpus_files, run, write_config
from servers import FeedServer

from monitor.store.engine import make_engine

TAG = re.compile(r"<[A-Za-z!/?][^<>]*>")


@pytest.mark.slow
def test_feedparser_corpus_end_to_end(
    tmp_path: Path, feed_server: FeedServer, sqlite_url: str
) -> None:
    files = feedparser_corpus_files()
    feeds = []
    for path in files:
        rel = path.relative_to(CORPUS).as_posix()
        feeds.append((rel, feed_server.feed("/" + rel, path.read_bytes(), "application/xml")))
    config = write_config(
        tmp_path, db_url=sqlite_url, feeds=feeds, fetch="concurrency = 16\nper_host = 16"
    )
    result = run(config, "check")
    assert result.exit_code == 0, result.output[-2000:]
    assert f"feeds polled: {len(files)}" in result.output
    engine = make_engine(sqlite_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT key, title, summary, url FROM item")).all()
    finally:
        engine.dispose()
    assert len(rows) > 1000
    for key, title, summary, url in rows:
        assert key and key.split(":", 1)[0] in ("guid", "url", "hash"), key
        for text in (title, summary):
            assert not TAG.search(text), text
            assert "\x00" not in text
        assert url is None or url.lower().startswith(("http://", "https://")), url
