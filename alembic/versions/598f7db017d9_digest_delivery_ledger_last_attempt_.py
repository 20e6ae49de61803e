"""digest delivery ledger: last attempt, uncertain, shown

Revision ID: 598f7db017d9
Revises: 9f65ba948aa1
Create Date: 2026-11-28 05:54:21.646073
"""

from collections.abc import Sequence

import sqlalchemy as sa

import monitor.store.tables
from alembic import op

revision: str = "598f7db017d9"
down_revision: str | None = "9f65ba948aa1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("digest", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "last_attempt", monitor.store.tables.UTCDateTime(timezone=True), nullable=True
            )
        )
        batch_op.add_column(
            sa.Column("uncertain", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("shown", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("digest", schema=None) as batch_op:
        batch_op.drop_column("shown")
        batch_op.drop_column("uncertain")
        batch_op.drop_column("last_attempt")
