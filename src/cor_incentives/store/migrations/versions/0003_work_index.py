"""the per-epoch work index: the rows each settling event appends to the epoch's work columns, packed per flush

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06

One row per flush and work stream (``family``): the rows' task ids (int64), node indices (int32, into the epoch's
interned names) and counted flags (int8) as packed bytes, and the names interned since the previous chunk; a row with
``first_row = -1`` marks the epoch closed with ``row_count`` rows (store/db.py ``work_index``; docs/design.md §6). A database
upgraded to it has no index for the epochs before: their statements read the tasks' records, as before.

That is layout 1 of a chunk. Since session 32 a flush writes layout 2 in the same columns, without a migration: the
whole chunk as one narrow, compressed value in ``tasks``, ``nodes`` and ``counted`` empty (store/work_index_format.py);
readers take both.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "work_index",
        sa.Column("epoch", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("family", sa.String(length=32), nullable=False),
        sa.Column("first_row", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("row_count", sa.BigInteger(), nullable=False),
        sa.Column("tasks", sa.LargeBinary(), nullable=False),
        sa.Column("nodes", sa.LargeBinary(), nullable=False),
        sa.Column("counted", sa.LargeBinary(), nullable=False),
        sa.Column("new_names", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("epoch", "family", "first_row"),
    )


def downgrade() -> None:
    op.drop_table("work_index")
