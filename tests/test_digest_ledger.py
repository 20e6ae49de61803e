"""The delivery ledger at the edges: more stories than one statement may bind, and an outbox
that cannot be written, with a real SMTP-less delivery into files on disk."""

from __future__ import annotations

import re
import shutil
import sqlite3
import subprocess
import sys
from dataclasses import replace
from email import message_from_bytes, policy
from pathlib import Path

import pytest
import sqlalchemy as sa
from test_digest_faults import NOW, seed, settings_for, text_of

from monitor import deliver
from monitor.store import Store
from monitor.store import tables as t
from monitor.store.tables import UTCDateTime


def bulk_stories(store: Store, n: int) -> None:
    """n stories in one INSERT … SELECT (a recursive counter), far faster than n reports."""
    story = t.table_of(t.Story)
    seq = sa.select(sa.literal(1).label("n")).cte("seq", recursive=True)
    seq = seq.union_all(sa.select(seq.c.n + 1).where(seq.c.n < n))
    rows = sa.select(
        sa.literal("Bulk story ") + sa.cast(seq.c.n, sa.String),
        sa.literal(NOW, UTCDateTime()),
        sa.literal("digest"),
    )
    with store.engine.begin() as conn:
        conn.execute(sa.insert(story).from_select(["title", "first_seen", "severity"], rows))


RCPTS = ("a@example.org", "b@example.org")


def _limit_variables(dbapi_conn: sqlite3.Connection, _record: object) -> None:
    dbapi_conn.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 999)


def test_freeze_more_stories_than_one_statement_may_bind(db_url: str) -> None:
    # SQLite binds at most 32,766 parameters a statement (999 before 3.32), PostgreSQL 65,535.
    n = 66_000
    with Store(db_url) as store:
        if store.engine.dialect.name == "sqlite":
            # This build allows 250,000; hold it to 999, as SQLite builds before 3.32 do.
            sa.event.listen(store.engine, "connect", _limit_variables)
            store.engine.dispose()
        bulk_stories(store, n)
        ids = store.undelivered_story_ids("analyst@example.org")
        assert len(ids) == n
        copy = store.freeze_digest("analyst@example.org", ids, "<big@example.org>", NOW)
        assert copy is not None
        row = store.digest(copy)
        assert row is not None and (row.status, row.story_count) == ("pending", n)
        assert sorted(store.digest_stories(copy)) == sorted(ids)
        assert store.undelivered_story_ids("analyst@example.org") == []


def test_a_full_disk_fails_one_copy_and_the_others_are_delivered(
    tmp_path: Path, sqlite_url: str
) -> None:
    rcpts = ("full@example.org", "fine@example.org")
    settings = settings_for(tmp_path, sqlite_url, smtp_port=None, recipients=rcpts)
    with Store(sqlite_url) as store:
        titles = seed(store, 2)
    # The first copy's temporary file is on a device that is always full: the write fails
    # with ENOSPC, for real.
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    doomed = outbox / f"{NOW:%Y%m%dT%H%M%SZ}-digest-1-full@example.org.tmp"
    doomed.symlink_to("/dev/full")
    with Store(sqlite_url) as store:
        reports = deliver.send_digests(settings, store, NOW)
        assert [(r.recipient, r.status) for r in reports] == [
            ("full@example.org", "pending"),
            ("fine@example.org", "sent"),
        ]
        assert "No space left on device" in (reports[0].error or "")
        full = store.digest(1)
        assert full is not None and full.status == "pending" and full.attempts == 1
        assert full.error is not None and str(outbox) in full.error
        assert "No space left on device" in full.error
        assert len(store.digest_stories(1)) == 2  # nothing lost: its stories wait in the copy
        assert not doomed.exists() and not doomed.is_symlink()  # no partial file left
        (retried,) = deliver.retry_pending(settings, store, NOW, force=True)
        assert retried.status == "sent"
    for r in rcpts:
        (eml,) = outbox.glob(f"*-{r}.eml")
        msg = message_from_bytes(eml.read_bytes(), policy=policy.default)
        assert all(t in text_of(msg) for t in titles)  # type: ignore[arg-type]
    assert list(outbox.glob("*.tmp")) == []


def test_an_outbox_that_cannot_be_made_fails_each_copy_with_the_reason(
    tmp_path: Path, sqlite_url: str
) -> None:
    settings = settings_for(tmp_path, sqlite_url, smtp_port=None, recipients=RCPTS)
    # The outbox's parent is a regular file: no directory can be made there.
    (tmp_path / "outbox").write_text("not a directory\n", encoding="utf-8")
    settings = replace(settings, outbox=tmp_path / "outbox" / "mail")
    with Store(sqlite_url) as store:
        seed(store, 1)
        reports = deliver.send_digests(settings, store, NOW)
        assert [r.status for r in reports] == ["pending", "pending"]
        assert all("Not a directory" in (r.error or "") for r in reports)
        assert [len(store.digest_stories(c.id)) for c in store.digests()] == [1, 1]
        assert store.undelivered_story_ids(RCPTS[0]) == []  # frozen, waiting to be retried


def test_an_outbox_file_is_fsynced_before_its_rename_and_its_directory_after(
    tmp_path: Path, sqlite_url: str
) -> None:
    """Watched with strace: the system calls `monitor digest send` makes, in order."""
    strace = shutil.which("strace")
    if strace is None:
        pytest.skip("needs strace to watch the system calls")
    settings = settings_for(tmp_path, sqlite_url, smtp_port=None)
    with Store(sqlite_url) as store:
        seed(store, 1)
    trace = tmp_path / "trace.txt"
    command = [sys.executable, "-m", "monitor", "--config", str(settings.path), "digest", "send"]
    subprocess.run(
        [
            strace,
            "-f",
            "-qq",
            "-e",
            "trace=openat,fsync,rename,renameat,renameat2",
            "-o",
            str(trace),
            *command,
        ],
        check=True,
        capture_output=True,
    )
    calls = trace.read_text(encoding="utf-8").splitlines()
    outbox = str(tmp_path / "outbox")
    opened = next(i for i, c in enumerate(calls) if "openat(" in c and '.tmp", O_WRONLY' in c)
    fd = calls[opened].rsplit("= ", 1)[1]
    renamed = next(i for i, c in enumerate(calls) if re.search(r"rename\w*\(.*\.tmp.*\.eml", c))
    assert any(f"fsync({fd})" in c for c in calls[opened:renamed]), "file not fsynced"
    after = calls[renamed:]
    directory = next(
        i for i, c in enumerate(after) if f'"{outbox}", O_RDONLY' in c and "O_DIRECTORY" in c
    )
    dir_fd = after[directory].rsplit("= ", 1)[1]
    assert any(f"fsync({dir_fd})" in c for c in after[directory:]), "directory not fsynced"
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 1
