"""identity number conflicts held for the bureaus

Revision ID: 5d2f9b7c1e86
Revises: 2b5e7d1c9f40
Create Date: 2026-12-07 21:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "5d2f9b7c1e86"
down_revision: str | None = "2b5e7d1c9f40"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("teacher") as batch:
        batch.add_column(
            sa.Column(
                "id_number_claim_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True
            )
        )
        batch.add_column(sa.Column("id_number_holder_id", sa.Uuid(), nullable=True))
        batch.create_index("ix_teacher_id_number_claim_hash", ["id_number_claim_hash"])
        batch.create_foreign_key(
            "fk_teacher_id_number_holder_id", "teacher", ["id_number_holder_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("teacher") as batch:
        batch.drop_constraint("fk_teacher_id_number_holder_id", type_="foreignkey")
        batch.drop_index("ix_teacher_id_number_claim_hash")
        batch.drop_column("id_number_holder_id")
        batch.drop_column("id_number_claim_hash")
