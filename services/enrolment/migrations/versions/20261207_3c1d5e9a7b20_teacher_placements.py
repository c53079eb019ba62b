"""teacher placements: a count the rush path checks for enrolments made meanwhile

Revision ID: 3c1d5e9a7b20
Revises: fb26e7a961c0
Create Date: 2026-12-07 19:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3c1d5e9a7b20"
down_revision: str | None = "fb26e7a961c0"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "teacher", sa.Column("placements", sa.Integer(), nullable=False, server_default="0")
    )


def downgrade() -> None:
    op.drop_column("teacher", "placements")
