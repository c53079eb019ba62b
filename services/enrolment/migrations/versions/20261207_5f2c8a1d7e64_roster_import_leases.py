"""roster imports are claimed with a lease, and given up after repeated failures

Revision ID: 5f2c8a1d7e64
Revises: 5d2f9b7c1e86
Create Date: 2026-12-07 21:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from shared.db import UtcDateTime

revision: str = "5f2c8a1d7e64"
down_revision: str | None = "5d2f9b7c1e86"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("rosterimport") as batch:
        batch.add_column(sa.Column("claimed_by", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("claimed_until", UtcDateTime(), nullable=True))
        batch.add_column(sa.Column("attempts", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("rosterimport") as batch:
        batch.drop_column("attempts")
        batch.drop_column("claimed_until")
        batch.drop_column("claimed_by")
