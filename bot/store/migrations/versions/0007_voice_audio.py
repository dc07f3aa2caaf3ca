"""voice answers' audio, kept with BOT_KEEP_AUDIO

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "voice_audio",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("duration_s", sa.Float(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_voice_audio_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_voice_audio")),
        sa.UniqueConstraint(
            "conversation_id", "sha256", name=op.f("uq_voice_audio_conversation_id_sha256")
        ),
    )
    op.create_index(op.f("ix_voice_audio_conversation_id"), "voice_audio", ["conversation_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_voice_audio_conversation_id"), table_name="voice_audio")
    op.drop_table("voice_audio")
