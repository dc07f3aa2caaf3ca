"""an index for a conversation's newest messages (the prompt's history, loaded with a limit)

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        op.f("ix_messages_conversation_id_id"), "messages", ["conversation_id", "id"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_messages_conversation_id_id"), table_name="messages")
