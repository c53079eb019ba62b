"""school and district names, policy names for transcripts

Revision ID: b255df4e5513
Revises: 60e5f85cbc16
Create Date: 2026-12-07 23:46:04.027397
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b255df4e5513"
down_revision: str | None = "60e5f85cbc16"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "district",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "school",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("district_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("school") as batch_op:
        batch_op.create_index(batch_op.f("ix_school_district_id"), ["district_id"], unique=False)
    with op.batch_alter_table("requirement_policy") as batch_op:
        batch_op.add_column(
            sa.Column("name", sa.String(length=100), server_default="", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("requirement_policy") as batch_op:
        batch_op.drop_column("name")
    with op.batch_alter_table("school") as batch_op:
        batch_op.drop_index(batch_op.f("ix_school_district_id"))
    op.drop_table("school")
    op.drop_table("district")
