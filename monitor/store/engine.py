"""Database engines and the schema gate (Alembic migrations).

SQLite is tuned for one daemon plus manual runs on one file: WAL, a busy timeout and
`BEGIN IMMEDIATE` so a writer waits for the lock instead of failing with "database is
locked" halfway through a transaction (docs/decisions.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

from monitor.errors import DatabaseError, SchemaBehindError

# alembic/ sits at the top of the project, beside monitor/ (the project is installed editable).
ALEMBIC_DIR = Path(__file__).resolve().parents[2] / "alembic"
SQLITE_BUSY_TIMEOUT_S = 30
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
    return sa.create_engine(url, pool_pre_ping=True)


def _sqlite_on_connect(dbapi_conn: Any, _record: Any) -> None:
    # Take transaction control from the sqlite3 module so that BEGIN IMMEDIATE can be issued.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def _sqlite_on_begin(conn: sa.Connection) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE")


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
        with engine.connect() as conn:
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


def check_schema(engine: Engine) -> None:
    """Raise SchemaBehindError unless the database is at this version's head revision."""
    current, head = current_revision(engine), head_revision()
    if current != head:
        raise SchemaBehindError(engine.url.render_as_string(hide_password=True), current, head)
