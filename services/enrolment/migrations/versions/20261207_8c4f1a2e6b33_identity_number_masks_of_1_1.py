"""identity number masks of 1+1 digits

Revision ID: 8c4f1a2e6b33
Revises: 3c1d5e9a7b20
Create Date: 2026-12-07 19:15:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "8c4f1a2e6b33"
down_revision: str | None = "3c1d5e9a7b20"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Masks kept 3+4 digits; 1+1 are enough to tell records apart (issue 12).
    bind = op.get_bind()
    rows = bind.execute(
        sa.text("SELECT id, id_number_masked FROM teacher WHERE id_number_masked IS NOT NULL")
    ).all()
    for teacher_id, masked in rows:
        shorter = masked[0] + "*" * (len(masked) - 2) + masked[-1] if len(masked) > 2 else masked
        bind.execute(
            sa.text("UPDATE teacher SET id_number_masked = :m WHERE id = :i"),
            {"m": shorter, "i": teacher_id},
        )


def downgrade() -> None:
    pass  # the digits dropped from the masks are not kept anywhere to bring back
