"""Schema: Alembic migrations create it, match the models, and gate a database that is behind."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import RELEVANT_RSS, run, write_config
from servers import FeedServer

from alembic import command
from monitor.errors import SchemaBehindError
from monitor.store import Store
from monitor.store.engine import (
    WAL_CHECKPOINT_PAGES,
    alembic_config,
    current_revision,
    head_revision,
    make_engine,
    scanned_head,
)
from monitor.store.tables import UTCDateTime


def test_upgrade_creates_every_table(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        names = set(sa.inspect(engine).get_table_names())
        assert {"feed", "item", "item_match", "story", "digest", "digest_story"} <= names
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


def test_models_and_migrations_do_not_drift(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:
            cfg = alembic_config(db_url)
            cfg.attributes["connection"] = conn
            command.check(cfg)  # raises when autogenerate would produce operations
    finally:
        engine.dispose()


def test_behind_database_is_refused_with_the_fix(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    with pytest.raises(SchemaBehindError, match="monitor db upgrade"):
        Store(url)
    config = write_config(tmp_path, db_url=url)
    result = run(config, "check")
    assert result.exit_code == 2
    assert "run `monitor db upgrade`" in result.output
    upgraded = run(config, "db", "upgrade")
    assert upgraded.exit_code == 0, upgraded.output
    assert head_revision() in upgraded.output
    assert "up to date" in run(config, "db", "current").output
    Store(url).close()


def test_init_writes_a_working_starter(tmp_path: Path) -> None:
    result = run(None, "init", str(tmp_path / "site"))
    assert result.exit_code == 0, result.output
    site = tmp_path / "site"
    assert (site / "monitor.toml").is_file() and (site / "rules.toml").is_file()
    assert (site / "var" / "monitor.db").is_file()
    again = run(None, "init", str(site))
    assert "kept" in again.output


def test_scanned_head_is_alembics_head() -> None:
    # The start-up schema check reads the head from the scripts' revision lines; it must agree.
    assert scanned_head() == head_revision()


def test_sqlite_connections_are_tuned_for_one_writer(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'tuned.db'}")
    with engine.connect() as conn:
        pragma = {
            name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
            for name in ("journal_mode", "synchronous", "wal_autocheckpoint", "foreign_keys")
        }
    engine.dispose()
    # synchronous 1 = NORMAL: with WAL, a power cut may lose the last commits, never the file
    assert pragma == {
        "journal_mode": "wal",
        "synchronous": 1,
        "wal_autocheckpoint": WAL_CHECKPOINT_PAGES,
        "foreign_keys": 1,
    }


def test_story_key_times_survive_the_migration_both_ways(
    tmp_path: Path, feed_server: FeedServer, db_url: str
) -> None:
    # story_key.published became whole seconds (d6e4a2c8f1b3): the rows a real pass wrote go
    # down to timestamps and back up unchanged, on both databases.
    from datetime import UTC, datetime

    from monitor.store.stories import key_time

    feed = feed_server.feed("/f.xml", RELEVANT_RSS)
    assert run(write_config(tmp_path, db_url=db_url, feeds=[("f", feed)]), "check").exit_code == 0
    facts = sa.text(
        "SELECT k.id, k.published, i.published FROM story_key AS k JOIN item AS i"
        " ON i.id = k.item_id ORDER BY k.id"
    ).columns(sa.column("id"), sa.column("k"), sa.column("i", UTCDateTime()))
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            at_head = list(conn.execute(facts))
        assert len(at_head) > 10  # two matching reports, some twenty keys each
        for _, seconds, published in at_head:
            assert seconds == key_time(published)  # 05:00:00 UTC on 28 November 2026

        cfg = alembic_config(db_url)
        command.downgrade(cfg, "c4d2e1f3a5b6")
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text("SELECT published FROM story_key ORDER BY id").columns(
                    sa.column("published", UTCDateTime())
                )
            )
            assert [r[0] for r in rows] == [datetime(2026, 11, 28, 5, tzinfo=UTC)] * len(at_head)
        command.upgrade(cfg, "head")
        with engine.connect() as conn:
            assert list(conn.execute(facts)) == at_head
    finally:
        engine.dispose()
