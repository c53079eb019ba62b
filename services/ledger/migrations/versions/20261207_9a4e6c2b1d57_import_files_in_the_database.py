"""import files in the database (sealed), claimed with a lease

Revision ID: 9a4e6c2b1d57
Revises: 3b7d9e0c4a12
Create Date: 2026-12-07 21:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from shared import pii
from shared.config import common
from shared.db import UtcDateTime

revision: str = "9a4e6c2b1d57"
down_revision: str | None = "3b7d9e0c4a12"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("ledger_import") as batch:
        batch.add_column(
            sa.Column("content", sa.LargeBinary(), server_default=sa.text("''"), nullable=False)
        )
        batch.add_column(sa.Column("claimed_by", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("claimed_until", UtcDateTime(), nullable=True))
        batch.add_column(sa.Column("attempts", sa.Integer(), server_default="0", nullable=False))
    # Unfinished imports whose file is on this replica's disk (where uploads were kept
    # before) take it along; the worker fails the others, whose file is not here. The old
    # files are left for the operator to remove once the upgrade is committed.
    folder = common().shixun_data_dir / "ledger-imports"
    connection = op.get_bind()
    table = sa.table(
        "ledger_import",
        sa.column("id", sa.Uuid()),
        sa.column("format", sa.String()),
        sa.column("status", sa.String()),
        sa.column("content", sa.LargeBinary()),
    )
    pending = connection.execute(
        sa.select(table.c.id, table.c.format).where(table.c.status.in_(("queued", "running")))
    ).all()
    for import_id, fmt in pending:
        path = folder / f"{import_id}.{fmt}"
        if path.exists():
            connection.execute(
                sa.update(table)
                .where(table.c.id == import_id)
                .values(content=pii.seal(path.read_bytes()))
            )


def downgrade() -> None:
    with op.batch_alter_table("ledger_import") as batch:
        batch.drop_column("attempts")
        batch.drop_column("claimed_until")
        batch.drop_column("claimed_by")
        batch.drop_column("content")
