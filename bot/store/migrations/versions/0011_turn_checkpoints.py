"""turn checkpoints: an interview's grading saved question by question

The last answer's turn grades every question before it is stored in one transaction; a
kill in the middle used to mean grading them all again after the restart. Each question's
result is now saved here as it is made and found again by the re-run turn
(bot/store/checkpoints.py).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "turn_checkpoints",
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_turn_checkpoints_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("conversation_id", "key", name=op.f("pk_turn_checkpoints")),
    )


def downgrade() -> None:
    op.drop_table("turn_checkpoints")
