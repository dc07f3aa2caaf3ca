"""The reads every message and every turn makes, in SQLAlchemy Core on a plain connection.

A profile of the bot under load put SQLAlchemy at 42 % of its CPU, most of it ORM session
machinery (identity map, unit of work, per-row instance state) for rows that are read once
and turned into records at once. These statements are built once, at import, so their
cache keys are memoised too; the rows carry the same attribute names as the ORM objects,
so `bot.store.records` builds the records from either.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import bindparam, literal_column, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.store.api import (
    OPEN_STATUSES,
    ConversationRecord,
    MessageRecord,
    MessageStatus,
    UserRecord,
)
from bot.store.models import CONVERSATIONS as _C
from bot.store.models import EVENTS as _E
from bot.store.models import MESSAGES as _M
from bot.store.models import USERS as _U
from bot.store.models import Message
from bot.store.records import conversation_record, message_record, user_record

_EVENT_SEEN = (
    select(_E.c.id)
    .where(_E.c.platform == bindparam("platform"), _E.c.event_id == bindparam("event_id"))
    .limit(1)
)
_ACTIVE = (
    select(_C)
    .where(_C.c.key == bindparam("key"), _C.c.status.in_([s.value for s in OPEN_STATUSES]))
    .order_by(_C.c.id.desc())
    .limit(1)
)
_CONVERSATION = select(_C).where(_C.c.id == bindparam("id"))
_PENDING = (
    select(_M)
    .where(
        _M.c.conversation_id == bindparam("conversation_id"),
        _M.c.status == MessageStatus.PENDING.value,
    )
    .order_by(_M.c.id)
)
# The retry loop's question, every few seconds in every process. The status is a literal,
# not a parameter, so that both databases match it to the partial index of pending
# messages by created_at (migration 0009): the pending rows are read, never the table.
_IS_PENDING = _M.c.status == literal_column(f"'{MessageStatus.PENDING.value}'")
_WITH_PENDING = (
    select(_M.c.conversation_id)
    .join(_C, _C.c.id == _M.c.conversation_id)
    .where(_IS_PENDING, _C.c.status.in_([s.value for s in OPEN_STATUSES]))
    .distinct()
    .order_by(_M.c.conversation_id)
)
_WITH_PENDING_BEFORE = _WITH_PENDING.where(_M.c.created_at < bindparam("before"))
_USER = select(_U).where(_U.c.id == bindparam("id"))
_KNOWN_USER = select(_U.c.id, _U.c.display_name, _U.c.locale).where(
    _U.c.platform == bindparam("platform"), _U.c.platform_user_id == bindparam("user")
)


async def _first(engine: AsyncEngine, statement: Any, params: dict[str, Any]) -> Any:
    async with engine.connect() as connection:
        return (await connection.execute(statement, params)).first()


async def event_seen(engine: AsyncEngine, platform: str, event_id: str) -> bool:
    found = await _first(engine, _EVENT_SEEN, {"platform": platform, "event_id": event_id})
    return found is not None


async def active_conversation(engine: AsyncEngine, key: str) -> ConversationRecord | None:
    row = await _first(engine, _ACTIVE, {"key": key})
    return conversation_record(row) if row is not None else None


async def conversation(engine: AsyncEngine, conversation_id: int) -> ConversationRecord:
    row = await _first(engine, _CONVERSATION, {"id": conversation_id})
    if row is None:
        raise LookupError(f"no conversations row with id {conversation_id}")
    return conversation_record(row)


async def pending_messages(engine: AsyncEngine, conversation_id: int) -> list[MessageRecord]:
    async with engine.connect() as connection:
        result = await connection.execute(_PENDING, {"conversation_id": conversation_id})
        return [message_record(cast(Message, row)) for row in result]


async def known_user(engine: AsyncEngine, platform: str, user: str) -> tuple[int, str, str | None]:
    """(id, display name, locale) of a stored person, or (0, "", None) when unknown."""
    row = await _first(engine, _KNOWN_USER, {"platform": platform, "user": user})
    return (int(row[0]), str(row[1]), row[2]) if row is not None else (0, "", None)


async def user(engine: AsyncEngine, user_id: int) -> UserRecord:
    row = await _first(engine, _USER, {"id": user_id})
    if row is None:
        raise LookupError(f"no users row with id {user_id}")
    return user_record(row)


async def conversations_with_pending(engine: AsyncEngine, before: datetime | None) -> list[int]:
    """Open conversations with a message pending (stored before `before`), by id."""
    statement = _WITH_PENDING if before is None else _WITH_PENDING_BEFORE
    async with engine.connect() as connection:
        result = await connection.execute(statement, {"before": before})
        return [int(row[0]) for row in result]
