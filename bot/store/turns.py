"""Writing one turn: replies, answered messages, state and an evaluation, together."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import JSON, utcnow
from bot.store.api import DeliveryState, MessageStatus, Role, TurnCommit
from bot.store.models import AuditEntry, Conversation, Message, Outbox
from bot.store.records import evaluation_row, get_row


async def write_turn(session: AsyncSession, turn: TurnCommit) -> int | None:
    """Inside the caller's transaction; returns the new evaluation's id, if any."""
    now = utcnow()
    conversation = await get_row(session, Conversation, turn.conversation_id)
    deliveries: list[tuple[Message, JSON]] = []
    for reply in turn.replies:
        message = Message(
            conversation_id=turn.conversation_id,
            role=Role.ASSISTANT.value,
            kind=reply.kind,
            text=reply.text,
            status=MessageStatus.SENT.value,
            model=reply.model,
            prompt_version=reply.prompt_version,
            prompt_tokens=reply.prompt_tokens,
            completion_tokens=reply.completion_tokens,
            cached_tokens=reply.cached_tokens,
            ttft_ms=reply.ttft_ms,
            latency_ms=reply.latency_ms,
            created_at=now,
            answered_at=now,
        )
        session.add(message)
        if reply.delivery is not None:
            deliveries.append((message, reply.delivery))
    if deliveries:
        await session.flush()  # the replies' ids, for their delivery records
        for message, payload in deliveries:
            session.add(_outbox_row(turn, message.id, payload, now))
    for ids, status in (
        (turn.answered_message_ids, MessageStatus.ANSWERED),
        (turn.rejected_message_ids, MessageStatus.REJECTED),
    ):
        if ids:
            await session.execute(
                update(Message)
                .where(Message.id.in_(ids), Message.conversation_id == turn.conversation_id)
                .values(status=status.value, answered_at=now)
            )
    conversation.state, conversation.status = turn.state, turn.status.value
    conversation.updated_at = now
    if turn.evaluation is None:
        return None
    new = turn.evaluation
    evaluation = evaluation_row(turn.conversation_id, new, now)
    session.add(evaluation)
    await session.flush()
    session.add(
        AuditEntry(
            event="evaluation",
            actor="bot",
            subject=f"conversation:{turn.conversation_id}",
            details={
                "evaluation_id": evaluation.id,
                "status": new.status,
                "model": new.model,
                "prompt_version": new.prompt_version,
                "role_version": new.role_version,
            },
            at=now,
        )
    )
    return evaluation.id


def _outbox_row(turn: TurnCommit, message_id: int, payload: JSON, now: datetime) -> Outbox:
    state = DeliveryState.DELIVERED if turn.delivered else DeliveryState.PENDING
    return Outbox(
        conversation_id=turn.conversation_id,
        message_id=message_id,
        payload=payload,
        state=state.value,
        attempts=1 if turn.delivered else 0,
        next_attempt_at=now,
        last_error="",
        created_at=now,
        delivered_at=now if turn.delivered else None,
    )
