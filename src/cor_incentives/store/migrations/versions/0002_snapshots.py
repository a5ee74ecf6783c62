"""state snapshots: the whole engine state after an event, content-hashed (core/state_codec.py)

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01

One row per snapshot: the event it follows (``seq``, its ``head_hash``), the encoding's ``format``,
the sha256 of the encoded bytes (``hash``) and the bytes themselves, zlib-compressed (``data``).
Opening a database loads the newest snapshot that checks out and replays the events after it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "snapshots",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("head_hash", sa.String(length=66), nullable=False),
        sa.Column("format", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(length=66), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
    )


def downgrade() -> None:
    op.drop_table("snapshots")
