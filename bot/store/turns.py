"""Writing one turn: replies, answered messages, state and an evaluation, together."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import utcnow
from bot.store.api import MessageStatus, Role, TurnCommit
from bot.store.models import AuditEntry, Conversation, Evaluation, Message
from bot.store.records import get_row


async def write_turn(session: AsyncSession, turn: TurnCommit) -> int | None:
    """Inside the caller's transaction; returns the new evaluation's id, if any."""
    now = utcnow()
    conversation = await get_row(session, Conversation, turn.conversation_id)
    for reply in turn.replies:
        session.add(
            Message(
                conversation_id=turn.conversation_id,
                role=Role.ASSISTANT.value,
                kind="text",
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
        )
    if turn.answered_message_ids:
        await session.execute(
            update(Message)
            .where(
                Message.id.in_(turn.answered_message_ids),
                Message.conversation_id == turn.conversation_id,
            )
            .values(status=MessageStatus.ANSWERED.value, answered_at=now)
        )
    if turn.rejected_message_ids:
        await session.execute(
            update(Message)
            .where(
                Message.id.in_(turn.rejected_message_ids),
                Message.conversation_id == turn.conversation_id,
            )
            .values(status=MessageStatus.REJECTED.value, answered_at=now)
        )
    conversation.state, conversation.status = turn.state, turn.status.value
    conversation.updated_at = now
    if turn.evaluation is None:
        return None
    new = turn.evaluation
    evaluation = Evaluation(
        conversation_id=turn.conversation_id,
        status=new.status,
        data=new.data,
        raw_output=new.raw_output,
        model=new.model,
        prompt_version=new.prompt_version,
        role_version=new.role_version,
        error=new.error,
        created_at=now,
    )
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
