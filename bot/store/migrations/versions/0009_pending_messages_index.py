"""pending messages by age: a partial index for the retry loop

Every process asks every few seconds which conversations have a message pending longer
than the grace period (bot.engine.Engine.retry). Without an index that touched every
message ever stored; this one holds only the pending rows, ordered by created_at.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_messages_pending_created_at"
PENDING = sa.text("status = 'pending'")


def upgrade() -> None:
    op.create_index(
        INDEX, "messages", ["created_at"], sqlite_where=PENDING, postgresql_where=PENDING
    )


def downgrade() -> None:
    op.drop_index(INDEX, table_name="messages")
