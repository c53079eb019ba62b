"""drop the files of finished roster imports (identity numbers in clear)

Revision ID: 2b5e7d1c9f40
Revises: 8c4f1a2e6b33
Create Date: 2026-12-07 19:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "2b5e7d1c9f40"
down_revision: str | None = "8c4f1a2e6b33"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # New uploads are sealed and dropped when finished; finished old ones are dropped here.
    op.execute("UPDATE rosterimport SET content = '' WHERE status IN ('done', 'failed')")


def downgrade() -> None:
    pass  # the files are gone
