"""The part of a conversation a prompt may hold, loaded with a limit.

Newest first on the (conversation_id, id) index (migration 0002), so a turn reads `limit`
rows whatever the conversation's length; the context budget (bot.llm.budget) trims further.
Rejected input (too long, empty, binary, rate-limited) and taps on commands never qualify.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import InputKind
from bot.store.api import MessageRecord, MessageStatus, Role
from bot.store.models import Message

PROMPT_KINDS = (InputKind.TEXT.value, InputKind.ACTION.value)  # user input a prompt may hold
SOURCES_KIND = "sources"  # a reply listing cited documents: delivered, never a prompt's history


async def recent_history(
    session: AsyncSession, conversation_id: int, limit: int
) -> list[MessageRecord]:
    query = (
        # plain columns, not ORM objects: this runs every turn
        select(
            Message.id,
            Message.role,
            Message.kind,
            Message.text,
            Message.status,
            Message.created_at,
            Message.action_id,
        )
        .where(
            Message.conversation_id == conversation_id,
            (
                (Message.role == Role.USER.value)
                & (Message.status == MessageStatus.ANSWERED.value)
                & Message.kind.in_(PROMPT_KINDS)
            )
            | ((Message.role == Role.ASSISTANT.value) & (Message.kind != SOURCES_KIND)),
        )
        .order_by(Message.id.desc())
        .limit(limit)
    )
    rows = list(await session.execute(query))
    return [
        MessageRecord(
            row.id,
            conversation_id,
            Role(row.role),
            row.kind,
            row.text,
            MessageStatus(row.status),
            row.created_at,
            row.action_id,
        )
        for row in reversed(rows)
    ]
