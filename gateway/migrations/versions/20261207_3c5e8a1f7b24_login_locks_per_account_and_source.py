"""login locks per account and source address

Revision ID: 3c5e8a1f7b24
Revises: aa131efa7df9
Create Date: 2026-12-07 21:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import shared.db

revision: str = "3c5e8a1f7b24"
down_revision: str | None = "aa131efa7df9"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "login_lock",
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", shared.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("locked_until", shared.db.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"]),
        sa.PrimaryKeyConstraint("account_id", "source"),
    )
    # A lock of the whole account (anyone could lock the admin out) gives way to the above;
    # a lock in force when this runs is dropped with it.
    with op.batch_alter_table("account") as batch:
        batch.drop_column("locked_until")
        batch.drop_column("failed_logins")


def downgrade() -> None:
    with op.batch_alter_table("account") as batch:
        batch.add_column(
            sa.Column("failed_logins", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(
            sa.Column("locked_until", shared.db.UtcDateTime(timezone=True), nullable=True)
        )
    op.drop_table("login_lock")
