"""The writes every message makes, in SQLAlchemy Core on the transaction's connection.

Storing a user's message, starting a conversation, a person seen for the first time, a
message or conversation changing status: each once or more per message, each a few rows
written and never read back through a session, so no ORM unit of work (bot/store/turns.py
says why). Statements are built once, at import; INSERT ... RETURNING gives back the row
as the database stored it (SQLite >= 3.35 and PostgreSQL), which `bot.store.records`
turns into a record like any row read.
"""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.domain import JSON, ConversationKey, Platform, UserRef, utcnow
from bot.store.api import (
    OPEN_STATUSES,
    ConversationRecord,
    ConversationStatus,
    MessageRecord,
    MessageStatus,
    Role,
)
from bot.store.models import CONVERSATIONS as _C
from bot.store.models import EVENTS as _E
from bot.store.models import MESSAGES as _M
from bot.store.models import USERS as _U
from bot.store.models import Conversation, Message
from bot.store.records import conversation_record, message_record

_INSERT_MESSAGE = insert(_M).returning(*_M.c)
_INSERT_EVENT = insert(_E)
_TOUCH = (
    update(_C).where(_C.c.id == bindparam("b_conversation_id")).values(updated_at=bindparam("now"))
)
_SUPERSEDE = (
    update(_C)
    .where(_C.c.key == bindparam("b_key"), _C.c.status.in_([s.value for s in OPEN_STATUSES]))
    .values(status=ConversationStatus.SUPERSEDED.value, updated_at=bindparam("now"))
)
_INSERT_CONVERSATION = insert(_C).returning(*_C.c)
_SET_STATUS = (
    update(_C)
    .where(_C.c.id == bindparam("b_conversation_id"))
    .values(status=bindparam("b_status"), updated_at=bindparam("now"))
)
_MARK_PENDING = (
    update(_M).where(_M.c.id == bindparam("b_message_id")).values(status=bindparam("b_status"))
)
_MARK_DONE = (
    update(_M)
    .where(_M.c.id == bindparam("b_message_id"))
    .values(status=bindparam("b_status"), answered_at=bindparam("now"))
)
_INSERT_USER = insert(_U).returning(_U.c.id)
_USER_MATCH = (
    _U.c.platform == bindparam("match_platform"),
    _U.c.platform_user_id == bindparam("match_user"),
)
_USER_ID = select(_U.c.id).where(*_USER_MATCH)


async def record_user_message(
    connection: AsyncConnection,
    conversation_id: int,
    *,
    kind: str,
    text: str,
    action_id: str,
    event: tuple[Platform, str] | None,
    user_id: int | None,
) -> MessageRecord:
    """A PENDING message and, with `event`, its processed_events row: a platform event seen
    before fails that INSERT on the unique pair, and the caller's transaction (message
    included) rolls back."""
    now = utcnow()
    row = (
        await connection.execute(
            _INSERT_MESSAGE,
            {
                "conversation_id": conversation_id,
                "user_id": user_id,
                "role": Role.USER.value,
                "kind": kind,
                "text": text,
                "action_id": action_id,
                "status": MessageStatus.PENDING.value,
                "created_at": now,
            },
        )
    ).one()
    if event is not None:
        await connection.execute(
            _INSERT_EVENT,
            {
                "platform": event[0].value,
                "event_id": event[1],
                "message_id": row.id,
                "created_at": now,
            },
        )
    await connection.execute(_TOUCH, {"b_conversation_id": conversation_id, "now": now})
    return message_record(cast(Message, row))


async def create_conversation(
    connection: AsyncConnection,
    key: ConversationKey,
    user_id: int | None,
    flow: str,
    state: JSON,
    supersede: bool,
) -> ConversationRecord:
    now = utcnow()
    if supersede:
        await connection.execute(_SUPERSEDE, {"b_key": key.as_str(), "now": now})
    row = (
        await connection.execute(
            _INSERT_CONVERSATION,
            {
                "key": key.as_str(),
                "platform": key.platform.value,
                "chat_id": key.chat_id,
                "user_key": key.user_id,
                "thread_id": key.thread_id,
                "user_id": user_id,
                "flow": flow,
                "state": state,
                "status": ConversationStatus.ACTIVE.value,
                "created_at": now,
                "updated_at": now,
            },
        )
    ).one()
    return conversation_record(cast(Conversation, row))


async def set_conversation_status(
    connection: AsyncConnection, conversation_id: int, status: ConversationStatus
) -> None:
    params = {"b_conversation_id": conversation_id, "b_status": status.value, "now": utcnow()}
    if (await connection.execute(_SET_STATUS, params)).rowcount != 1:
        raise LookupError(f"no conversations row with id {conversation_id}")


async def mark_message(connection: AsyncConnection, message_id: int, status: MessageStatus) -> None:
    if status is MessageStatus.PENDING:
        statement, params = _MARK_PENDING, {"b_message_id": message_id, "b_status": status.value}
    else:
        statement = _MARK_DONE
        params = {"b_message_id": message_id, "b_status": status.value, "now": utcnow()}
    if (await connection.execute(statement, params)).rowcount != 1:
        raise LookupError(f"no messages row with id {message_id}")


async def insert_user(connection: AsyncConnection, user: UserRef, now: datetime) -> int:
    """A person seen for the first time; an IntegrityError when another process stored
    them a moment ago."""
    result = await connection.execute(
        _INSERT_USER,
        {
            "platform": user.platform.value,
            "platform_user_id": user.platform_user_id,
            "display_name": user.display_name,
            "locale": user.locale,
            "created_at": now,
        },
    )
    return int(result.scalar_one())


async def update_user(connection: AsyncConnection, user: UserRef) -> int | None:
    """Keep what the platform says now (an empty value means "not told", not "erase");
    the person's id, None when no such person is stored."""
    values: dict[str, str] = {}
    if user.display_name:
        values["display_name"] = user.display_name
    if user.locale:
        values["locale"] = user.locale
    match = {"match_platform": user.platform.value, "match_user": user.platform_user_id}
    # Rare (a new name or locale): built per call, since which columns change varies.
    statement = (
        update(_U).where(*_USER_MATCH).values(**values).returning(_U.c.id) if values else _USER_ID
    )
    found = (await connection.execute(statement, match)).first()
    return int(found[0]) if found is not None else None
