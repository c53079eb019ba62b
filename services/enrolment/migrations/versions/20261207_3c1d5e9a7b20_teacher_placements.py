"""teacher placements, the waitlist's index: what the rush path reads and writes

Revision ID: 3c1d5e9a7b20
Revises: 8edd991ba362
Create Date: 2026-12-07 19:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3c1d5e9a7b20"
down_revision: str | None = "8edd991ba362"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "teacher", sa.Column("placements", sa.Integer(), nullable=False, server_default="0")
    )
    waiting = sa.text("status = 'waitlisted'")
    op.create_index(
        "ix_enrolment_waitlist",
        "enrolment",
        ["program_id", "waitlist_position"],
        postgresql_where=waiting,
        sqlite_where=waiting,
    )


def downgrade() -> None:
    op.drop_index("ix_enrolment_waitlist", table_name="enrolment")
    op.drop_column("teacher", "placements")
