"""The outbox table's queries: which replies still wait for the platform, and their fate.

Mixed into `SqlStore`; each method is one short transaction like the rest of the store.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import cast

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from bot.domain import utcnow
from bot.store.api import DeliveryState, OutboxRecord
from bot.store.models import OUTBOX as _O
from bot.store.models import Outbox


def outbox_record(row: Outbox) -> OutboxRecord:
    return OutboxRecord(
        id=row.id,
        conversation_id=row.conversation_id,
        message_id=row.message_id,
        payload=dict(row.payload),
        state=DeliveryState(row.state),
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        last_error=row.last_error,
        created_at=row.created_at,
    )


# Every turn with an outbox reads its pending replies and marks each delivered: Core
# statements built once (bot/store/hot.py says why).
_PENDING = (
    select(_O)
    .where(
        _O.c.conversation_id == bindparam("b_conversation_id"),
        _O.c.state == DeliveryState.PENDING.value,
    )
    .order_by(_O.c.id)
)
_DELIVERED = (
    update(_O)
    .where(_O.c.id == bindparam("b_id"))
    .values(
        state=DeliveryState.DELIVERED.value,
        attempts=_O.c.attempts + 1,
        delivered_at=bindparam("now"),
        last_error="",
    )
)


class OutboxQueries:
    _sessions: async_sessionmaker[AsyncSession]
    _reads: async_sessionmaker[AsyncSession]
    _read_engine: AsyncEngine
    _write_one: Callable[[], AbstractAsyncContextManager[AsyncConnection]]

    async def pending_deliveries(self, conversation_id: int) -> list[OutboxRecord]:
        async with self._read_engine.connect() as connection:
            result = await connection.execute(_PENDING, {"b_conversation_id": conversation_id})
            return [outbox_record(cast(Outbox, row)) for row in result]

    async def conversations_with_due_deliveries(self, now: datetime) -> list[int]:
        query = (
            select(Outbox.conversation_id)
            .where(Outbox.state == DeliveryState.PENDING.value, Outbox.next_attempt_at <= now)
            .group_by(Outbox.conversation_id)
            .order_by(func.min(Outbox.id))
        )
        async with self._reads() as session:
            return list((await session.scalars(query)).all())

    async def mark_delivered(self, outbox_id: int) -> None:
        async with self._write_one() as connection:
            await connection.execute(_DELIVERED, {"b_id": outbox_id, "now": utcnow()})

    async def mark_delivery_failed(
        self, outbox_id: int, error: str, retry_at: datetime | None
    ) -> None:
        state = DeliveryState.PENDING if retry_at is not None else DeliveryState.FAILED
        values: dict[str, object] = {
            "state": state.value,
            "attempts": _O.c.attempts + 1,
            "last_error": error[:500],
        }
        if retry_at is not None:
            values["next_attempt_at"] = retry_at
        async with self._write_one() as connection:
            await connection.execute(update(_O).where(_O.c.id == outbox_id).values(**values))

    async def delivery_counts(self) -> dict[DeliveryState, int]:
        # Undelivered rows only: the delivered ones grow without bound and are counted as
        # they happen (metrics.DELIVERIES).
        query = (
            select(Outbox.state, func.count())
            .where(Outbox.state != DeliveryState.DELIVERED.value)
            .group_by(Outbox.state)
        )
        async with self._reads() as session:
            rows = (await session.execute(query)).all()
        counts = {DeliveryState.PENDING: 0, DeliveryState.FAILED: 0}
        for state, count in rows:
            counts[DeliveryState(state)] = int(count)
        return counts
