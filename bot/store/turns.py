"""Writing one turn: replies, answered messages, state and an evaluation, together.

SQLAlchemy Core on the transaction's connection, statements built once: the ORM's unit of
work (identity map, per-object state, flush ordering) was about 40 % of a worker's CPU
under load, for rows written once and never read back through a session.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, insert, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.domain import utcnow
from bot.store.api import DeliveryState, MessageStatus, NewReply, Role, TurnCommit
from bot.store.models import AUDIT as _A
from bot.store.models import CHECKPOINTS as _CP
from bot.store.models import CONVERSATIONS as _C
from bot.store.models import EVALUATIONS as _EV
from bot.store.models import MESSAGES as _M
from bot.store.models import OUTBOX as _O
from bot.store.records import evaluation_values

_SAVE_CONVERSATION = (
    update(_C)
    .where(_C.c.id == bindparam("b_conversation_id"))
    .values(state=bindparam("b_state"), status=bindparam("b_status"), updated_at=bindparam("now"))
)
_INSERT_REPLY = insert(_M).returning(_M.c.id)
# Several replies in one statement; the ids come back in the order the replies were given.
_INSERT_REPLIES = insert(_M).returning(_M.c.id, sort_by_parameter_order=True)
_INSERT_OUTBOX = insert(_O)
_MARK = (
    update(_M)
    .where(
        _M.c.id.in_(bindparam("ids", expanding=True)),
        _M.c.conversation_id == bindparam("b_conversation_id"),
    )
    .values(status=bindparam("b_status"), answered_at=bindparam("now"))
)
_INSERT_EVALUATION = insert(_EV).returning(_EV.c.id)
_INSERT_AUDIT = insert(_A)
_DROP_CHECKPOINTS = delete(_CP).where(_CP.c.conversation_id == bindparam("b_conversation_id"))


async def write_turn(connection: AsyncConnection, turn: TurnCommit) -> int | None:
    """Inside the caller's transaction; returns the new evaluation's id, if any."""
    now = utcnow()
    saved = await connection.execute(
        _SAVE_CONVERSATION,
        {
            "b_conversation_id": turn.conversation_id,
            "b_state": turn.state,
            "b_status": turn.status.value,
            "now": now,
        },
    )
    if saved.rowcount != 1:
        raise LookupError(f"no conversations row with id {turn.conversation_id}")
    if turn.replies:
        await _write_replies(connection, turn, now)
    for ids, status in (
        (turn.answered_message_ids, MessageStatus.ANSWERED),
        (turn.rejected_message_ids, MessageStatus.REJECTED),
    ):
        if ids:
            await connection.execute(
                _MARK,
                {
                    "ids": ids,
                    "b_conversation_id": turn.conversation_id,
                    "b_status": status.value,
                    "now": now,
                },
            )
    if turn.evaluation is None:
        return None
    new = turn.evaluation
    values = evaluation_values(turn.conversation_id, new, now)
    evaluation_id = int((await connection.execute(_INSERT_EVALUATION, values)).scalar_one())
    if new.status == "ok":
        # The grading saved question by question (bot.store.checkpoints) is in it now; a
        # failed evaluation keeps them, so that its retry grades only what failed.
        await connection.execute(_DROP_CHECKPOINTS, {"b_conversation_id": turn.conversation_id})
    await connection.execute(
        _INSERT_AUDIT,
        {
            "event": "evaluation",
            "actor": "bot",
            "subject": f"conversation:{turn.conversation_id}",
            "details": {
                "evaluation_id": evaluation_id,
                "status": new.status,
                "model": new.model,
                "prompt_version": new.prompt_version,
                "role_version": new.role_version,
            },
            "at": now,
        },
    )
    return evaluation_id


async def _write_replies(connection: AsyncConnection, turn: TurnCommit, now: datetime) -> None:
    rows = [_reply_values(turn.conversation_id, reply, now) for reply in turn.replies]
    if len(rows) == 1:  # the usual turn: a plain INSERT ... RETURNING, not an executemany
        ids = [int((await connection.execute(_INSERT_REPLY, rows[0])).scalar_one())]
    else:
        ids = [int(row[0]) for row in await connection.execute(_INSERT_REPLIES, rows)]
    delivered = turn.delivered
    outbox = [
        {
            "conversation_id": turn.conversation_id,
            "message_id": message_id,
            "payload": reply.delivery,
            "state": (DeliveryState.DELIVERED if delivered else DeliveryState.PENDING).value,
            "attempts": 1 if delivered else 0,
            "next_attempt_at": now,
            "last_error": "",
            "created_at": now,
            "delivered_at": now if delivered else None,
        }
        for message_id, reply in zip(ids, turn.replies, strict=True)
        if reply.delivery is not None
    ]
    if outbox:
        await connection.execute(_INSERT_OUTBOX, outbox[0] if len(outbox) == 1 else outbox)


def _reply_values(conversation_id: int, reply: NewReply, now: datetime) -> dict[str, Any]:
    return {
        "conversation_id": conversation_id,
        "user_id": None,
        "role": Role.ASSISTANT.value,
        "kind": reply.kind,
        "text": reply.text,
        "action_id": "",
        "status": MessageStatus.SENT.value,
        "model": reply.model,
        "prompt_version": reply.prompt_version,
        "prompt_tokens": reply.prompt_tokens,
        "completion_tokens": reply.completion_tokens,
        "cached_tokens": reply.cached_tokens,
        "ttft_ms": reply.ttft_ms,
        "latency_ms": reply.latency_ms,
        "created_at": now,
        "answered_at": now,
    }
