"""program budget approval: the version the bureau approved

Revision ID: 5d1e2b7c9a01
Revises: c6839b2f1f2d
Create Date: 2026-12-07 18:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "5d1e2b7c9a01"
down_revision: str | None = "c6839b2f1f2d"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("program_budget") as batch:
        batch.add_column(sa.Column("approved_version", sa.Integer(), nullable=True))
        batch.add_column(
            sa.Column("approved_by", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True)
        )
    # Budgets set before approval existed were set by whoever could then; treat them as
    # approved at their version so running programs keep spending.
    op.execute("UPDATE program_budget SET approved_version = version")


def downgrade() -> None:
    with op.batch_alter_table("program_budget") as batch:
        batch.drop_column("approved_by")
        batch.drop_column("approved_version")
