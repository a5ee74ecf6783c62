"""initial schema: the event log, its read models and the blob store

Revision ID: 0001
Revises:
Create Date: 2026-11-25

Exactly the tables ``store.db.metadata.create_all`` made before migrations existed (same names,
types, keys and index names), so such databases are stamped with this revision, not re-created.
Amounts stay decimal strings (Text): SQLite's NUMERIC would turn large integers into floats.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("tick", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("actor", sa.String(length=42), nullable=False),
        sa.Column("nonce", sa.BigInteger(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("signature", sa.String(length=132), nullable=False),
        sa.Column("prev_hash", sa.String(length=66), nullable=False),
        sa.Column("hash", sa.String(length=66), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
        sa.UniqueConstraint("hash"),
    )
    op.create_index("ix_events_actor", "events", ["actor"], unique=False)

    op.create_table(
        "meta",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )

    op.create_table(
        "balances",
        sa.Column("account", sa.String(length=160), nullable=False),
        sa.Column("owner", sa.String(length=42), nullable=True),
        sa.Column("amount", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("account"),
    )
    op.create_index("ix_balances_owner", "balances", ["owner"], unique=False)

    op.create_table(
        "postings",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("idx", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("src", sa.String(length=160), nullable=False),
        sa.Column("dst", sa.String(length=160), nullable=False),
        sa.Column("amount", sa.Text(), nullable=False),
        sa.Column("reason", sa.String(length=96), nullable=False),
        sa.PrimaryKeyConstraint("seq", "idx"),
    )
    op.create_index("ix_postings_src", "postings", ["src"], unique=False)
    op.create_index("ix_postings_dst", "postings", ["dst"], unique=False)

    op.create_table(
        "nodes",
        sa.Column("id", sa.String(length=42), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )

    op.create_table(
        "documents",
        sa.Column("collection", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=160), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("collection", "key"),
    )

    op.create_table(
        "blobs",
        sa.Column("hash", sa.String(length=66), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("hash"),
    )


def downgrade() -> None:
    op.drop_table("blobs")
    op.drop_table("documents")
    op.drop_table("nodes")
    op.drop_index("ix_postings_dst", table_name="postings")
    op.drop_index("ix_postings_src", table_name="postings")
    op.drop_table("postings")
    op.drop_index("ix_balances_owner", table_name="balances")
    op.drop_table("balances")
    op.drop_table("meta")
    op.drop_index("ix_events_actor", table_name="events")
    op.drop_table("events")
