"""Queries for the scheduled jobs and the admin commands, over a `SqlStore`.

Kept beside `SqlStore` rather than in it: they serve `bot.jobs` and `bot.export` only, and
return the core's record types like the store does.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.domain import JSON
from bot.store.api import ConversationRecord, MessageRecord, Role
from bot.store.models import AuditEntry, Conversation, Message
from bot.store.records import conversation_record, message_record
from bot.store.sql import SqlStore


def _sessions(store: SqlStore) -> async_sessionmaker[AsyncSession]:
    return store._sessions  # the store's own sessions: one short transaction per call


async def last_user_message_at(
    store: SqlStore, conversation_ids: Sequence[int]
) -> dict[int, datetime]:
    """When each conversation's last user message arrived (absent: none yet)."""
    if not conversation_ids:
        return {}
    query = (
        select(Message.conversation_id, func.max(Message.created_at))
        .where(Message.conversation_id.in_(conversation_ids), Message.role == Role.USER.value)
        .group_by(Message.conversation_id)
    )
    async with _sessions(store)() as session:
        rows = (await session.execute(query)).all()
    return {conversation_id: _aware(at) for conversation_id, at in rows if at is not None}


async def last_audit_at(
    store: SqlStore, event: str, subjects: Sequence[str]
) -> dict[str, datetime]:
    """The newest audit entry of `event` per subject (absent: none)."""
    if not subjects:
        return {}
    query = (
        select(AuditEntry.subject, func.max(AuditEntry.at))
        .where(AuditEntry.event == event, AuditEntry.subject.in_(subjects))
        .group_by(AuditEntry.subject)
    )
    async with _sessions(store)() as session:
        rows = (await session.execute(query)).all()
    return {subject: _aware(at) for subject, at in rows if at is not None}


async def conversations_of(store: SqlStore, user_id: int) -> list[ConversationRecord]:
    query = select(Conversation).where(Conversation.user_id == user_id).order_by(Conversation.id)
    async with _sessions(store)() as session:
        return [conversation_record(row) for row in await session.scalars(query)]


async def messages_of(
    store: SqlStore, user_id: int, conversation_ids: Sequence[int]
) -> list[MessageRecord]:
    """Every message in the person's own conversations, and what they wrote elsewhere (a
    shared thread) - but not other people's messages there."""
    mine = Message.user_id == user_id
    query = (
        select(Message)
        .where(
            or_(mine, Message.conversation_id.in_(conversation_ids)) if conversation_ids else mine
        )
        .order_by(Message.id)
    )
    async with _sessions(store)() as session:
        return [message_record(row) for row in await session.scalars(query)]


async def audit_at(
    store: SqlStore, event: str, actor: str, subject: str, details: JSON, at: datetime
) -> None:
    """An audit entry stamped with the time the job acted on (its `now`), which is what
    the job compares against the next time it runs."""
    async with _sessions(store).begin() as session:
        session.add(AuditEntry(event=event, actor=actor, subject=subject, details=details, at=at))


def _aware(value: datetime) -> datetime:
    # In case an aggregate bypasses the column type: SQLite keeps naive UTC values.
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
