"""Invitations expire (migration 0010, BOT_INVITATION_TTL_DAYS), on every backend: an expired
link is refused apart from an unknown or used one and changes nothing; the retention purge
empties an expired, unused invitation (résumé, candidate name) and later deletes it; the
migration gives the invitations it finds a sensible expiry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy import Connection

from bot.domain import Platform, UserRef, utcnow
from bot.store import connect
from bot.store.api import InvitationExpired
from bot.store.models import Invitation
from bot.store.sql import SqlStore
from tests.store.conftest import Backend

CANDIDATE = UserRef(Platform.TELEGRAM, "cand-77", "Cand")
RESUME = {"text": "Six years of Python development at Acme", "flags": []}
DAY = timedelta(days=1)


async def test_an_expired_link_is_refused_and_left_as_it_was(store: SqlStore) -> None:
    user = await store.ensure_user(CANDIDATE)
    expires = utcnow() + 14 * DAY
    made = await store.create_invitation("tok-x", "backend", "Ann", "U-hr", RESUME, expires)
    assert made.expires_at == expires and made.expires_at.tzinfo is not None

    with pytest.raises(InvitationExpired) as refused:
        await store.use_invitation("tok-x", user, now=expires)  # the moment it expires
    stored = refused.value.invitation
    assert (stored.token, stored.role, stored.used_at) == ("tok-x", "backend", None)
    assert stored.expires_at == expires
    # refused, not used: the résumé is still there, and an earlier clock still redeems it
    used = await store.use_invitation("tok-x", user, now=expires - timedelta(seconds=1))
    assert used is not None and used.resume == RESUME and used.used_by_user_id == user
    # once used, it is "used", however late: expiry is never said of a redeemed link
    assert await store.use_invitation("tok-x", user, now=expires + DAY) is None
    assert await store.use_invitation("unknown", user, now=expires + DAY) is None


async def test_an_invitation_without_an_expiry_works_for_ever(store: SqlStore) -> None:
    user = await store.ensure_user(CANDIDATE)
    await store.create_invitation("tok-forever", "backend", "Ann", "U-hr")
    used = await store.use_invitation("tok-forever", user, now=utcnow() + 3650 * DAY)
    assert used is not None and used.expires_at is None


async def test_the_purge_empties_expired_invitations_then_deletes_them(backend: Backend) -> None:
    store = backend.store
    user = await store.ensure_user(CANDIDATE)
    now = utcnow()
    await store.create_invitation("tok-old", "backend", "Ann Expired", "U-hr", RESUME, now - DAY)
    await store.create_invitation("tok-new", "backend", "Bea Valid", "U-hr", RESUME, now + DAY)
    await store.create_invitation("tok-used", "backend", "Cy Used", "U-hr", None, now + DAY)
    assert await store.use_invitation("tok-used", user) is not None

    await store.purge_older_than(now - 180 * DAY, now=now)
    dump = await backend.dump()
    assert "Ann Expired" not in dump  # its candidate's name and résumé went at expiry
    assert dump.count(RESUME["text"]) == 1  # the valid one keeps its résumé
    assert "Bea Valid" in dump and "Cy Used" in dump
    [purge] = await store.audit_log(event="retention_purge", limit=1)
    assert (purge.details["expired_invitations"], purge.details["expired_invitations_deleted"]) == (
        1,
        0,
    )
    # the emptied row stays for a while: a late click is still told the link expired
    with pytest.raises(InvitationExpired):
        await store.use_invitation("tok-old", user, now=now)
    assert await backend.count("invitations") == 3

    # once it expired longer ago than the retention period, the row is deleted too
    later = now + 181 * DAY
    await store.purge_older_than(later - 180 * DAY, now=later)
    [purge] = await store.audit_log(event="retention_purge", limit=1)
    assert purge.details["expired_invitations_deleted"] == 1
    assert purge.details["expired_invitations"] == 1  # tok-new expired meanwhile: emptied
    assert await store.use_invitation("tok-old", user, now=later) is None
    assert await backend.count("invitations") == 2  # tok-new (emptied) and tok-used remain
    assert RESUME["text"] not in await backend.dump()


async def test_the_migration_gives_unused_invitations_the_default_ttl(backend: Backend) -> None:
    """Down to 0009, two invitations as they were stored before, then up again."""
    await _migrate(backend, "downgrade", "0009")
    stamp = sa.DateTime(timezone=True)
    old = sa.table(
        "invitations",
        sa.column("token"),
        sa.column("role"),
        sa.column("candidate_name"),
        sa.column("created_by"),
        sa.column("created_at", stamp),
        sa.column("used_at", stamp),
    )
    long_ago = datetime(2026, 1, 5, tzinfo=UTC)
    async with backend.inspector.begin() as connection:
        await connection.execute(
            old.insert(),
            [
                {"token": t, "role": "backend", "candidate_name": "", "created_by": "U"}
                | {"created_at": long_ago, "used_at": used}
                for t, used in (("sent", None), ("redeemed", long_ago))
            ],
        )
    before = utcnow()
    await _migrate(backend, "upgrade", "head")
    after = utcnow()
    async with backend.inspector.connect() as connection:
        rows = dict(
            (await connection.execute(sa.select(Invitation.token, Invitation.expires_at))).all()
        )
    sent = rows["sent"]
    assert sent is not None and before + 14 * DAY <= sent <= after + 14 * DAY
    assert rows["redeemed"] is None
    user = await backend.store.ensure_user(CANDIDATE)
    assert await backend.store.use_invitation("sent", user) is not None  # not cut off at once


async def _migrate(backend: Backend, direction: str, revision: str) -> None:
    def run(connection: Connection) -> None:
        config = connect.alembic_config(connection.engine.url)
        config.attributes["connection"] = connection
        getattr(command, direction)(config, revision)

    async with backend.inspector.begin() as connection:
        await connection.run_sync(run)
