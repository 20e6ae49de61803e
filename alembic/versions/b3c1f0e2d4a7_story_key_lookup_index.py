"""story_key lookup index ends with item_id

The story index reads the newest rows of each key (a capped walk per key); with item_id in
the index those rows come off it in a stable order, with no sort.

Revision ID: b3c1f0e2d4a7
Revises: 573f5761ca56
Create Date: 2026-11-28 09:40:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "b3c1f0e2d4a7"
down_revision: str | None = "573f5761ca56"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("story_key", schema=None) as batch_op:
        batch_op.drop_index("ix_story_key_key_published")
        batch_op.create_index("ix_story_key_lookup", ["key", "published", "item_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("story_key", schema=None) as batch_op:
        batch_op.drop_index("ix_story_key_lookup")
        batch_op.create_index("ix_story_key_key_published", ["key", "published"], unique=False)
