"""Voice answers' audio over a `SqlStore`, kept only when BOT_KEEP_AUDIO is set.

Beside `SqlStore` (like `feedback`): only `bot.speech`'s VoiceStep writes here. The rows go
with their conversation: the retention purge and /delete remove them by the foreign key's
ON DELETE CASCADE (SQLite's foreign keys are on for every connection, bot.store.connect).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.domain import utcnow
from bot.store.models import VoiceAudio
from bot.store.sql import SqlStore


@dataclass(frozen=True, slots=True)
class KeptAudio:
    conversation_id: int
    sha256: str
    source: str
    duration_s: float
    data: bytes
    created_at: datetime


class SqlAudioArchive:
    """`bot.speech.step.AudioArchive` on the store's own database."""

    def __init__(self, store: SqlStore) -> None:
        self._sessions: async_sessionmaker[AsyncSession] = store._sessions

    async def keep(
        self, conversation_id: int, sha256: str, source: str, duration_s: float, data: bytes
    ) -> None:
        """Once per conversation and audio: a turn run again after a crash keeps no copy."""
        try:
            async with self._sessions.begin() as session:
                session.add(
                    VoiceAudio(
                        conversation_id=conversation_id,
                        sha256=sha256,
                        source=source,
                        duration_s=duration_s,
                        data=data,
                        created_at=utcnow(),
                    )
                )
        except IntegrityError:
            return  # already kept

    async def kept(self, conversation_id: int) -> list[KeptAudio]:
        async with self._sessions() as session:
            rows = await session.scalars(
                select(VoiceAudio)
                .where(VoiceAudio.conversation_id == conversation_id)
                .order_by(VoiceAudio.id)
            )
            return [
                KeptAudio(r.conversation_id, r.sha256, r.source, r.duration_s, r.data, r.created_at)
                for r in rows
            ]
