"""Work a turn saves before it is stored, over a `SqlStore`: the interview's grading.

A turn is written in one transaction when its flow ends (bot/delivery.py), so a kill while
the last answer was being graded meant grading every question again after the restart.
Each question's result is saved here as soon as it is made, under a key that names all it
was made from (bot.interview.scoring), and the re-run turn takes it instead of asking the
model again. The rows go with the turn that stores the evaluation (bot.store.turns), and
with their conversation (retention, /delete: the foreign key's ON DELETE CASCADE).
"""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.domain import JSON, utcnow
from bot.store.models import TurnCheckpoint
from bot.store.sql import SqlStore

log = logging.getLogger(__name__)


class SqlCheckpoints:
    def __init__(self, store: SqlStore) -> None:
        self._sessions: async_sessionmaker[AsyncSession] = store._sessions

    def of(self, conversation_id: int) -> ConversationCheckpoints:
        return ConversationCheckpoints(self, conversation_id)

    async def load(self, conversation_id: int, key: str) -> JSON | None:
        async with self._sessions() as session:
            data = await session.scalar(
                select(TurnCheckpoint.data).where(
                    TurnCheckpoint.conversation_id == conversation_id, TurnCheckpoint.key == key
                )
            )
        return data

    async def save(self, conversation_id: int, key: str, data: JSON) -> None:
        """Once per key: the same key names the same work, so a second save changes nothing."""
        try:
            async with self._sessions.begin() as session:
                session.add(
                    TurnCheckpoint(
                        conversation_id=conversation_id, key=key, data=data, created_at=utcnow()
                    )
                )
        except IntegrityError:
            return  # saved already, or the conversation is gone (/delete): nothing to keep


class ConversationCheckpoints:
    """One conversation's checkpoints, as a flow sees them (`TurnContext.checkpoints`).
    A checkpoint saves work and never decides anything: if the database cannot be read or
    written, the work is simply done (again), and the turn goes on."""

    def __init__(self, store: SqlCheckpoints, conversation_id: int) -> None:
        self._store, self._conversation_id = store, conversation_id

    async def load(self, key: str) -> JSON | None:
        try:
            return await self._store.load(self._conversation_id, key)
        except SQLAlchemyError as exc:
            log.warning("checkpoint of conversation %s unreadable: %s", self._conversation_id, exc)
            return None

    async def save(self, key: str, data: JSON) -> None:
        try:
            await self._store.save(self._conversation_id, key, data)
        except SQLAlchemyError as exc:
            log.warning("checkpoint of conversation %s not saved: %s", self._conversation_id, exc)
