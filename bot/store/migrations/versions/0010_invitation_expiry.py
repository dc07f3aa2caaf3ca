"""invitations expire: `expires_at`, set when one is made (BOT_INVITATION_TTL_DAYS)

NULL means the invitation never expires (BOT_INVITATION_TTL_DAYS=0). Invitations made
before this migration were promised no end, so the links already handed out are not cut
off at once: those not yet redeemed get the default TTL from the moment of the upgrade
(14 days after it), the redeemed ones NULL (their expiry no longer matters).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

EXISTING_TTL = timedelta(days=14)  # BOT_INVITATION_TTL_DAYS' default; settings are not read here


def upgrade() -> None:
    with op.batch_alter_table("invitations") as batch:
        batch.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
    stamp = sa.DateTime(timezone=True)
    invitations = sa.table(
        "invitations", sa.column("used_at", stamp), sa.column("expires_at", stamp)
    )
    op.execute(
        invitations.update()
        .where(invitations.c.used_at.is_(None))
        .values(expires_at=datetime.now(UTC) + EXISTING_TTL)
    )


def downgrade() -> None:
    with op.batch_alter_table("invitations") as batch:
        batch.drop_column("expires_at")
