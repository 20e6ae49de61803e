"""Alembic environment: migrates the database named by the caller (see monitor.store.engine)."""

from __future__ import annotations

from sqlmodel import SQLModel

import monitor.store.tables  # noqa: F401  (registers the tables on SQLModel.metadata)
from alembic import context
from monitor.store.engine import make_engine
from monitor.store.search import outside_models

config = context.config
target_metadata = SQLModel.metadata


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.begin() as conn:
        _run(conn)
    engine.dispose()


def _run(connection: object) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things: batch mode rebuilds tables instead.
        render_as_batch=True,
        compare_type=True,
        # The search index is kept by the database (monitor.store.search), not the models.
        include_object=lambda obj, name, type_, reflected, compare_to: (
            not outside_models(name, type_)
        ),
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; run `monitor db upgrade`")
run_migrations_online()
