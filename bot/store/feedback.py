"""The help desk's records over a `SqlStore`: answers, feedback on them, hand-offs.

Beside `SqlStore` rather than in it (like `admin_queries`): they serve `bot.support_desk`
and the Slack relay only. Each method is one short transaction.
"""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.domain import utcnow
from bot.store.api import (
    OPEN_STATUSES,
    ConversationStatus,
    HandoffRecord,
    HelpAnswerRecord,
    HelpDeskCounts,
    NewHelpAnswer,
    ReportLine,
)
from bot.store.models import AuditEntry, Conversation, Handoff, HelpAnswer, HelpFeedback
from bot.store.records import get_row, handoff_record, help_answer_record
from bot.store.sql import SqlStore

OPEN, RESOLVED, CANCELLED = "open", "resolved", "cancelled"


def _audit(session: AsyncSession, event: str, actor: str, row: Handoff, **details: str) -> None:
    session.add(
        AuditEntry(
            event=event,
            actor=actor,
            subject=f"conversation:{row.conversation_id}",
            details={"handoff_id": row.id, **details},
            at=utcnow(),
        )
    )


class SqlHelpDesk:
    """`bot.store.api.HelpDeskStore` on the store's own database."""

    def __init__(self, store: SqlStore) -> None:
        self._sessions: async_sessionmaker[AsyncSession] = store._sessions

    async def record_answer(self, answer: NewHelpAnswer) -> int:
        async with self._sessions.begin() as session:
            row = HelpAnswer(
                conversation_id=answer.conversation_id,
                question=answer.question,
                answer=answer.answer,
                outcome=answer.outcome,
                cited=answer.cited,
                sources={"items": list(answer.sources)},
                created_at=utcnow(),
            )
            session.add(row)
            await session.flush()
            return row.id

    async def get_answer(self, answer_id: int) -> HelpAnswerRecord | None:
        async with self._sessions() as session:
            row = await session.get(HelpAnswer, answer_id)
            return help_answer_record(row) if row is not None else None

    async def last_answer(self, conversation_id: int) -> HelpAnswerRecord | None:
        async with self._sessions() as session:
            row = await session.scalar(
                select(HelpAnswer)
                .where(HelpAnswer.conversation_id == conversation_id)
                .order_by(HelpAnswer.id.desc())
                .limit(1)
            )
            return help_answer_record(row) if row is not None else None

    async def record_feedback(
        self, answer_id: int, conversation_id: int, rating: str, user_key: str
    ) -> bool:
        for _ in range(2):  # the same person tapping twice at once: update theirs
            try:
                async with self._sessions.begin() as session:
                    answer = await session.get(HelpAnswer, answer_id)
                    if answer is None or answer.conversation_id != conversation_id:
                        return False
                    row = await session.scalar(
                        select(HelpFeedback).where(
                            HelpFeedback.answer_id == answer_id, HelpFeedback.user_key == user_key
                        )
                    )
                    if row is None:
                        session.add(
                            HelpFeedback(
                                answer_id=answer_id,
                                conversation_id=conversation_id,
                                rating=rating,
                                user_key=user_key,
                                created_at=utcnow(),
                            )
                        )
                    else:
                        row.rating, row.created_at = rating, utcnow()
                    return True
            except IntegrityError:
                continue
        return False

    async def open_handoff(
        self, conversation_id: int, requested_by: str, question: str
    ) -> HandoffRecord | None:
        async with self._sessions.begin() as session:
            existing = await session.scalar(
                select(Handoff.id).where(
                    Handoff.conversation_id == conversation_id, Handoff.status == OPEN
                )
            )
            conversation = await get_row(session, Conversation, conversation_id)
            if existing is not None or conversation.status not in [s.value for s in OPEN_STATUSES]:
                return None
            conversation.status = ConversationStatus.HANDED_OFF.value
            conversation.updated_at = utcnow()
            row = Handoff(
                conversation_id=conversation_id,
                status=OPEN,
                requested_by=requested_by,
                question=question,
                created_at=utcnow(),
            )
            session.add(row)
            await session.flush()
            _audit(session, "handoff", requested_by, row)
            return handoff_record(row)

    async def set_handoff_thread(self, handoff_id: int, channel: str, ts: str) -> None:
        async with self._sessions.begin() as session:
            row = await get_row(session, Handoff, handoff_id)
            row.desk_channel, row.desk_ts = channel, ts

    async def cancel_handoff(self, handoff_id: int, reason: str) -> None:
        await self._close(handoff_id, CANCELLED, "bot", "handoff_cancelled", reason=reason)

    async def resolve_handoff(self, handoff_id: int, resolved_by: str) -> HandoffRecord | None:
        return await self._close(handoff_id, RESOLVED, resolved_by, "handoff_resolved")

    async def _close(
        self, handoff_id: int, status: str, actor: str, event: str, **details: str
    ) -> HandoffRecord | None:
        async with self._sessions.begin() as session:
            closed = await session.execute(
                update(Handoff)
                .where(Handoff.id == handoff_id, Handoff.status == OPEN)
                .values(status=status, resolved_at=utcnow(), resolved_by=actor)
            )
            if getattr(closed, "rowcount", 0) != 1:
                return None  # closed already: whoever was first gave it back
            row = await get_row(session, Handoff, handoff_id)
            conversation = await get_row(session, Conversation, row.conversation_id)
            if conversation.status == ConversationStatus.HANDED_OFF.value:
                conversation.status = ConversationStatus.ACTIVE.value
                conversation.updated_at = utcnow()
            _audit(session, event, actor, row, **details)
            return handoff_record(row)

    async def handoff_of_thread(self, channel: str, ts: str) -> HandoffRecord | None:
        return await self._one_open(Handoff.desk_channel == channel, Handoff.desk_ts == ts)

    async def handoff_of_conversation(self, conversation_id: int) -> HandoffRecord | None:
        return await self._one_open(Handoff.conversation_id == conversation_id)

    async def _one_open(self, *where: object) -> HandoffRecord | None:
        async with self._sessions() as session:
            row = await session.scalar(
                select(Handoff)
                .where(Handoff.status == OPEN, *where)  # type: ignore[arg-type]
                .order_by(Handoff.id.desc())
                .limit(1)
            )
            return handoff_record(row) if row is not None else None

    async def help_desk_counts(self) -> HelpDeskCounts:
        async with self._sessions() as session:
            outcomes = dict(
                (
                    await session.execute(
                        select(HelpAnswer.outcome, func.count()).group_by(HelpAnswer.outcome)
                    )
                ).all()
            )
            cited = await session.scalar(
                select(func.count()).where(
                    HelpAnswer.cited.is_(True), HelpAnswer.outcome != "pinned"
                )
            )
            ratings = dict(
                (
                    await session.execute(
                        select(HelpFeedback.rating, func.count()).group_by(HelpFeedback.rating)
                    )
                ).all()
            )
            escalated = await session.scalar(
                select(func.count()).select_from(Handoff).where(Handoff.status != CANCELLED)
            )
        return HelpDeskCounts(
            answered=int(outcomes.get("answered", 0)),
            declined=int(outcomes.get("declined", 0)),
            pinned=int(outcomes.get("pinned", 0)),
            cited=int(cited or 0),
            escalated=int(escalated or 0),
            feedback_up=int(ratings.get("up", 0)),
            feedback_down=int(ratings.get("down", 0)),
        )

    async def help_desk_report(self, limit: int = 200) -> list[ReportLine]:
        downs = (
            select(HelpFeedback.answer_id, func.count().label("downs"))
            .where(HelpFeedback.rating == "down")
            .group_by(HelpFeedback.answer_id)
            .subquery()
        )
        query = (
            select(HelpAnswer, func.coalesce(downs.c.downs, 0))
            .outerjoin(downs, downs.c.answer_id == HelpAnswer.id)
            .where((HelpAnswer.outcome == "declined") | (downs.c.downs > 0))
            .order_by(HelpAnswer.id.desc())
            .limit(limit)
        )
        async with self._sessions() as session:
            rows = (await session.execute(query)).all()
        return [
            ReportLine(answer.id, answer.question, answer.outcome, int(down), answer.created_at)
            for answer, down in rows
        ]
