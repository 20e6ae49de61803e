"""Database engines and the schema gate (Alembic migrations).

SQLite is tuned for one daemon plus manual runs on one file: WAL, a busy timeout and
`BEGIN IMMEDIATE` so a writer waits for the lock instead of failing with "database is
locked" halfway through a transaction (docs/decisions.md). Reads that write nothing go
through `reading`: a plain BEGIN, which under WAL never waits for a writer.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

from monitor.errors import DatabaseError, SchemaBehindError

# The migrations ship inside the package: monitor/migrations is the top-level alembic/ (a
# link in the checkout, copied into the wheel), so a wheel install can migrate too.
ALEMBIC_DIR = Path(__file__).resolve().parents[1] / "migrations"
SQLITE_BUSY_TIMEOUT_S = 30
WAL_CHECKPOINT_PAGES = 10_000
MIGRATION_LOCK = 0x46524D31  # an advisory-lock key of our own ("FRM1")


def make_engine(url: str) -> Engine:
    """An engine for `url`; creates the folder of a SQLite file."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(
            url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False}
        )
        sa.event.listen(engine, "connect", _sqlite_on_connect)
        sa.event.listen(engine, "begin", _sqlite_on_begin)
        return engine
    engine = sa.create_engine(url, pool_pre_ping=True)
    sa.event.listen(engine, "connect", _postgresql_on_connect)
    return engine


def _postgresql_on_connect(dbapi_conn: Any, _record: Any) -> None:
    # psycopg prepares a statement run five times, and PostgreSQL then plans it once for any
    # parameters. For a chunk of an IN list (monitor.store.tables.chunks) such a plan
    # compares each of a feed's stored items with every one of 500 keys: seconds a
    # statement, minutes for a large feed document, where a plan for the values takes
    # milliseconds. Our statements are small; planning each again costs little.
    with dbapi_conn.cursor() as cur:
        cur.execute("SET plan_cache_mode = force_custom_plan")
    dbapi_conn.commit()


def _sqlite_on_connect(dbapi_conn: Any, _record: Any) -> None:
    # Take transaction control from the sqlite3 module so that BEGIN IMMEDIATE can be issued.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    # Copy the WAL back into the database every 10,000 pages (40 MB) rather than SQLite's
    # 1,000: a pass rewrites the same index pages over and over, and each checkpoint
    # copies them again and waits for the disk. A cold pass spent a fifth of its time there.
    cur.execute(f"PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_PAGES}")
    cur.close()


def _sqlite_on_begin(conn: sa.Connection) -> None:
    read_only = conn.get_execution_options().get(_READ_ONLY, False)
    conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


_READ_ONLY = "monitor_read_only"  # an execution option of our own, for _sqlite_on_begin


@contextlib.contextmanager
def reading(engine: Engine) -> Iterator[sa.Connection]:
    """A transaction that only reads: on SQLite a plain (deferred) BEGIN, which takes no
    lock, so a health check or a listing reads the last commit while a pass holds the write
    lock instead of waiting for it; on PostgreSQL a READ ONLY transaction."""
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn.execution_options(postgresql_readonly=True)  # undone when pooled again
        else:
            conn.execution_options(**{_READ_ONLY: True})
        with conn.begin():
            yield conn


def alembic_config(url: str) -> Any:
    """An Alembic Config for this project's migrations on `url`."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(ALEMBIC_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head is not None, "the project has no migrations"
    return head


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    try:
        with reading(engine) as conn:
            return MigrationContext.configure(conn).get_current_revision()
    except sa.exc.OperationalError as exc:
        raise DatabaseError(f"cannot open database {engine.url!r}: {exc.orig}") from exc


def upgrade(url: str) -> tuple[str | None, str]:
    """Apply every pending migration; return (revision before, revision after)."""
    from alembic import command

    engine = make_engine(url)
    try:
        before = current_revision(engine)
        with engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                # Two `monitor db upgrade` at once: the second waits here, then finds nothing
                # to do. The lock ends with the transaction.
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK})
            cfg = alembic_config(url)
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
        return before, head_revision()
    finally:
        engine.dispose()


# `revision = "abc"` / `down_revision = None` lines of a migration script (annotations allowed).
_REVISION_LINE = re.compile(
    r"""^(revision|down_revision)\b[^=\n]*=\s*(?:["']([0-9A-Za-z_]+)["']|None)\s*$""", re.M
)


def scanned_head() -> str | None:
    """The head revision read from the migration scripts' revision lines, without importing
    Alembic or running the scripts (a quarter of a second at every start); None unless they
    form a plain chain (a merge, a branch, an unusual line), for Alembic to work out."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (ALEMBIC_DIR / "versions").glob("*.py"):
        found = {m[1]: m[2] for m in _REVISION_LINE.finditer(path.read_text("utf-8"))}
        if not found.get("revision") or "down_revision" not in found:
            return None
        revisions.add(found["revision"])
        if found["down_revision"]:
            parents.add(found["down_revision"])
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 and parents <= revisions else None


def check_schema(engine: Engine) -> None:
    """Raise SchemaBehindError unless the database is at this version's head revision.

    The common case (one row in alembic_version, a plain chain of scripts) is answered with
    one query; anything else goes through Alembic.
    """
    head = scanned_head() or head_revision()
    try:
        with reading(engine) as conn:
            rows = list(conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars())
    except sa.exc.DBAPIError:
        rows = []  # no table yet, or the database cannot be opened: Alembic says which
    current = rows[0] if len(rows) == 1 else current_revision(engine)
    if current != head:
        raise SchemaBehindError(engine.url.render_as_string(hide_password=True), current, head)
