"""full-text search of items: an FTS5 index on SQLite, a tsvector column on PostgreSQL

The web view searches the whole archive (`/search`). The index is kept by the database
itself, in the same transaction as the items, so the store's insert code is unchanged:

- SQLite: `item_fts`, an external-content FTS5 table over item.title and item.summary
  (the text is not stored twice), fed by triggers on `item`; the unicode61 tokenizer
  splits Urdu, Pashto and Arabic script into words as it does Latin.
- PostgreSQL: `item.search_vector`, a stored generated tsvector (title weighted A, summary
  B) under the 'simple' configuration (no stemming, no stop words: it works the same for
  every language the feeds carry), with a GIN index.

Both are built for the rows already stored. Names here are frozen copies of those in
monitor/store/search.py.

Revision ID: e7b5c3a1f9d2
Revises: d6e4a2c8f1b3
Create Date: 2026-12-08 02:40:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "e7b5c3a1f9d2"
down_revision: str | None = "d6e4a2c8f1b3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SQLITE_UP = [
    "CREATE VIRTUAL TABLE item_fts USING fts5(title, summary, content='item',"
    " content_rowid='id', tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER item_fts_insert AFTER INSERT ON item BEGIN"
    " INSERT INTO item_fts (rowid, title, summary) VALUES (new.id, new.title, new.summary);"
    " END",
    "CREATE TRIGGER item_fts_delete AFTER DELETE ON item BEGIN"
    " INSERT INTO item_fts (item_fts, rowid, title, summary)"
    " VALUES ('delete', old.id, old.title, old.summary);"
    " END",
    # Only when the text changes: joining a story updates item.story_id, and that must not
    # rewrite the index entry.
    "CREATE TRIGGER item_fts_update AFTER UPDATE OF title, summary ON item BEGIN"
    " INSERT INTO item_fts (item_fts, rowid, title, summary)"
    " VALUES ('delete', old.id, old.title, old.summary);"
    " INSERT INTO item_fts (rowid, title, summary) VALUES (new.id, new.title, new.summary);"
    " END",
    "INSERT INTO item_fts (item_fts) VALUES ('rebuild')",  # the rows already stored
]
_SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS item_fts_update",
    "DROP TRIGGER IF EXISTS item_fts_delete",
    "DROP TRIGGER IF EXISTS item_fts_insert",
    "DROP TABLE IF EXISTS item_fts",
]
_POSTGRES_UP = [
    # Adding a stored generated column rewrites the table and computes it for every row.
    "ALTER TABLE item ADD COLUMN search_vector tsvector GENERATED ALWAYS AS ("
    "setweight(to_tsvector('simple'::regconfig, coalesce(title, '')), 'A') || "
    "setweight(to_tsvector('simple'::regconfig, coalesce(summary, '')), 'B')) STORED",
    "CREATE INDEX ix_item_search_vector ON item USING gin (search_vector)",
]
_POSTGRES_DOWN = [
    "DROP INDEX IF EXISTS ix_item_search_vector",
    "ALTER TABLE item DROP COLUMN IF EXISTS search_vector",
]


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for statement in _SQLITE_UP if sqlite else _POSTGRES_UP:
        op.execute(statement)


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for statement in _SQLITE_DOWN if sqlite else _POSTGRES_DOWN:
        op.execute(statement)
