"""story_key loses its story_id index

No query reads story_key by story (stories are never deleted, and the story index looks
rows up by key), and a cold pass writes some fifty rows a report: one index fewer to keep
up for each of them.

Revision ID: c4d2e1f3a5b6
Revises: b3c1f0e2d4a7
Create Date: 2026-11-28 14:10:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "c4d2e1f3a5b6"
down_revision: str | None = "b3c1f0e2d4a7"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("story_key", schema=None) as batch_op:
        batch_op.drop_index("ix_story_key_story_id")


def downgrade() -> None:
    with op.batch_alter_table("story_key", schema=None) as batch_op:
        batch_op.create_index("ix_story_key_story_id", ["story_id"], unique=False)
