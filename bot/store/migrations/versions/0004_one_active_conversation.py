"""one active conversation per key: a partial unique index

Two processes (or two first messages) creating a conversation on the same key at once
used to leave two ACTIVE conversations; the index makes the second insert fail, and the
store then uses the one that won. Older duplicates are superseded first (the newest stays).

Revision ID: 0004
Revises: 0003 (written on 0001; chained after the outbox on merging delivery)
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "uq_conversations_active_key"
ACTIVE = sa.text("status IN ('active', 'handed_off')")  # open: active, or handed off (0006)


def upgrade() -> None:
    op.execute(
        "UPDATE conversations SET status = 'superseded' WHERE status = 'active' AND id NOT IN "
        "(SELECT max(id) FROM conversations WHERE status = 'active' GROUP BY key)"
    )
    op.create_index(
        INDEX,
        "conversations",
        ["key"],
        unique=True,
        sqlite_where=ACTIVE,
        postgresql_where=ACTIVE,
    )


def downgrade() -> None:
    op.drop_index(INDEX, table_name="conversations")
