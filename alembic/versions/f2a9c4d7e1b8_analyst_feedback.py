"""analyst feedback: the feedback table (not relevant, split reports, missed items)

Revision ID: f2a9c4d7e1b8
Revises: e7b5c3a1f9d2
Create Date: 2026-12-08 03:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel

import monitor.store.tables
from alembic import op

revision: str = "f2a9c4d7e1b8"
down_revision: str | None = "e7b5c3a1f9d2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("story_id", sa.Integer(), nullable=True),
        sa.Column("item_id", sa.Integer(), nullable=True),
        sa.Column("split_story_id", sa.Integer(), nullable=True),
        sa.Column("url", sqlmodel.sql.sqltypes.AutoString(length=2048), nullable=True),
        sa.Column("topic", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("note", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
        sa.Column("who", sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False),
        sa.Column("created", monitor.store.tables.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_feedback_kind"), "feedback", ["kind"], unique=False)
    op.create_index(op.f("ix_feedback_story_id"), "feedback", ["story_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_feedback_story_id"), table_name="feedback")
    op.drop_index(op.f("ix_feedback_kind"), table_name="feedback")
    op.drop_table("feedback")
