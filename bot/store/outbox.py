"""The outbox table's queries: which replies still wait for the platform, and their fate.

Mixed into `SqlStore`; each method is one short transaction like the rest of the store.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.domain import utcnow
from bot.store.api import DeliveryState, OutboxRecord
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
    )


class OutboxQueries:
    _sessions: async_sessionmaker[AsyncSession]
    _reads: async_sessionmaker[AsyncSession]

    async def pending_deliveries(self, conversation_id: int) -> list[OutboxRecord]:
        query = (
            select(Outbox)
            .where(
                Outbox.conversation_id == conversation_id,
                Outbox.state == DeliveryState.PENDING.value,
            )
            .order_by(Outbox.id)
        )
        async with self._reads() as session:
            return [outbox_record(row) for row in await session.scalars(query)]

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
        now = utcnow()
        async with self._sessions.begin() as session:
            await session.execute(
                update(Outbox)
                .where(Outbox.id == outbox_id)
                .values(
                    state=DeliveryState.DELIVERED.value,
                    attempts=Outbox.attempts + 1,
                    delivered_at=now,
                    last_error="",
                )
            )

    async def mark_delivery_failed(
        self, outbox_id: int, error: str, retry_at: datetime | None
    ) -> None:
        state = DeliveryState.PENDING if retry_at is not None else DeliveryState.FAILED
        values: dict[str, object] = {
            "state": state.value,
            "attempts": Outbox.attempts + 1,
            "last_error": error[:500],
        }
        if retry_at is not None:
            values["next_attempt_at"] = retry_at
        async with self._sessions.begin() as session:
            await session.execute(update(Outbox).where(Outbox.id == outbox_id).values(**values))

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
