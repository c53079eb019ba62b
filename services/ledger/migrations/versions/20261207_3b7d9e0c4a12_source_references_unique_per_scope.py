"""source references unique per district (per school for school-based)

Revision ID: 3b7d9e0c4a12
Revises: 63a92b21740e
Create Date: 2026-12-07 19:25:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3b7d9e0c4a12"
down_revision: str | None = "63a92b21740e"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("ledger_entry") as batch:
        batch.add_column(sa.Column("ref_scope_id", sa.Uuid(), nullable=True))
    # The scope of what is there: the teacher's school for school-based hours, else the
    # district; an entry of a teacher the ledger never heard of keeps its teacher as scope.
    op.execute(
        """
        UPDATE ledger_entry SET ref_scope_id = (
            SELECT CASE WHEN ledger_entry.source = 'school_based' THEN t.school_id
                        ELSE t.district_id END
            FROM teacher t WHERE t.id = ledger_entry.teacher_id)
        """
    )
    op.execute("UPDATE ledger_entry SET ref_scope_id = teacher_id WHERE ref_scope_id IS NULL")
    with op.batch_alter_table("ledger_entry") as batch:
        batch.alter_column("ref_scope_id", existing_type=sa.Uuid(), nullable=False)
        batch.drop_constraint("uq_ledger_entry_source", type_="unique")
        batch.create_unique_constraint(
            "uq_ledger_entry_source", ["ref_scope_id", "source", "source_ref"]
        )


def downgrade() -> None:
    with op.batch_alter_table("ledger_entry") as batch:
        batch.drop_constraint("uq_ledger_entry_source", type_="unique")
        batch.create_unique_constraint("uq_ledger_entry_source", ["source", "source_ref"])
        batch.drop_column("ref_scope_id")
