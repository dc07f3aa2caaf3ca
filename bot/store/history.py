"""The part of a conversation a prompt may hold, loaded with a limit.

Newest first on the (conversation_id, id) index (migration 0002), so a turn reads `limit`
rows whatever the conversation's length; the context budget (bot.llm.budget) trims further.
Rejected input (too long, empty, binary, rate-limited) and taps on commands never qualify.
"""

from __future__ import annotations

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.domain import InputKind
from bot.store.api import MessageRecord, MessageStatus, Role
from bot.store.models import MESSAGES as _M

PROMPT_KINDS = (InputKind.TEXT.value, InputKind.ACTION.value)  # user input a prompt may hold
SOURCES_KIND = "sources"  # a reply listing cited documents: delivered, never a prompt's history

# Plain columns on a plain connection, built once: this runs every turn.
_RECENT = (
    select(_M.c.id, _M.c.role, _M.c.kind, _M.c.text, _M.c.status, _M.c.created_at, _M.c.action_id)
    .where(
        _M.c.conversation_id == bindparam("conversation_id"),
        (
            (_M.c.role == Role.USER.value)
            & (_M.c.status == MessageStatus.ANSWERED.value)
            & _M.c.kind.in_(PROMPT_KINDS)
        )
        | ((_M.c.role == Role.ASSISTANT.value) & (_M.c.kind != SOURCES_KIND)),
    )
    .order_by(_M.c.id.desc())
    .limit(bindparam("limit"))
)


async def recent_history(
    engine: AsyncEngine, conversation_id: int, limit: int
) -> list[MessageRecord]:
    async with engine.connect() as connection:
        result = await connection.execute(
            _RECENT, {"conversation_id": conversation_id, "limit": limit}
        )
        rows = list(result)
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
