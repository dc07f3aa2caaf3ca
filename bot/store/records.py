"""Rows into the core's record types; nothing above `bot.store` sees a row."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import ConversationKey, Platform
from bot.store.api import (
    AuditRecord,
    ConversationRecord,
    ConversationStatus,
    DecisionRecord,
    EvaluationRecord,
    HandoffRecord,
    HelpAnswerRecord,
    InvitationRecord,
    MessageRecord,
    MessageStatus,
    NewEvaluation,
    Role,
    UserRecord,
)
from bot.store.models import (
    AuditEntry,
    Conversation,
    Decision,
    Evaluation,
    Handoff,
    HelpAnswer,
    Invitation,
    Message,
    User,
)


def conversation_key(row: Conversation) -> ConversationKey:
    return ConversationKey(Platform(row.platform), row.chat_id, row.user_key, row.thread_id)


def conversation_record(row: Conversation) -> ConversationRecord:
    return ConversationRecord(
        id=row.id,
        key=conversation_key(row),
        user_id=row.user_id,
        flow=row.flow,
        state=dict(row.state),
        status=ConversationStatus(row.status),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def message_record(row: Message) -> MessageRecord:
    return MessageRecord(
        id=row.id,
        conversation_id=row.conversation_id,
        role=Role(row.role),
        kind=row.kind,
        text=row.text,
        status=MessageStatus(row.status),
        created_at=row.created_at,
        action_id=row.action_id,
        model=row.model,
        prompt_tokens=row.prompt_tokens,
        completion_tokens=row.completion_tokens,
        cached_tokens=row.cached_tokens,
        ttft_ms=row.ttft_ms,
        latency_ms=row.latency_ms,
    )


def evaluation_record(row: Evaluation) -> EvaluationRecord:
    return EvaluationRecord(
        id=row.id,
        conversation_id=row.conversation_id,
        status=row.status,
        data=dict(row.data),
        raw_output=row.raw_output,
        model=row.model,
        prompt_version=row.prompt_version,
        role_version=row.role_version,
        error=row.error,
        created_at=row.created_at,
    )


def evaluation_values(conversation_id: int, new: NewEvaluation, at: datetime) -> dict[str, Any]:
    """An evaluations row's columns (an INSERT's parameters)."""
    return {
        "conversation_id": conversation_id,
        "status": new.status,
        "data": new.data,
        "raw_output": new.raw_output,
        "model": new.model,
        "prompt_version": new.prompt_version,
        "role_version": new.role_version,
        "error": new.error,
        "created_at": at,
    }


def evaluation_row(conversation_id: int, new: NewEvaluation, at: datetime) -> Evaluation:
    return Evaluation(**evaluation_values(conversation_id, new, at))


def user_record(row: User) -> UserRecord:
    return UserRecord(
        id=row.id,
        platform=Platform(row.platform),
        platform_user_id=row.platform_user_id,
        display_name=row.display_name,
        locale=row.locale,
        created_at=row.created_at,
    )


def invitation_record(row: Invitation) -> InvitationRecord:
    return InvitationRecord(
        token=row.token,
        role=row.role,
        candidate_name=row.candidate_name,
        created_by=row.created_by,
        created_at=row.created_at,
        used_at=row.used_at,
        used_by_user_id=row.used_by_user_id,
        resume=row.resume,
        expires_at=row.expires_at,
    )


def decision_record(row: Decision) -> DecisionRecord:
    return DecisionRecord(
        id=row.id,
        evaluation_id=row.evaluation_id,
        decision=row.decision,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
    )


def audit_record(row: AuditEntry) -> AuditRecord:
    return AuditRecord(
        id=row.id,
        event=row.event,
        actor=row.actor,
        subject=row.subject,
        details=dict(row.details),
        at=row.at,
    )


Row = TypeVar("Row", User, Conversation, Message, Evaluation, Handoff)


async def get_row(session: AsyncSession, model: type[Row], ident: int) -> Row:
    row = await session.get(model, ident)
    if row is None:
        raise LookupError(f"no {model.__tablename__} row with id {ident}")
    return row


def help_answer_record(row: HelpAnswer) -> HelpAnswerRecord:
    return HelpAnswerRecord(
        id=row.id,
        conversation_id=row.conversation_id,
        question=row.question,
        answer=row.answer,
        outcome=row.outcome,
        cited=row.cited,
        sources=list((row.sources or {}).get("items", [])),
        created_at=row.created_at,
    )


def handoff_record(row: Handoff) -> HandoffRecord:
    return HandoffRecord(
        id=row.id,
        conversation_id=row.conversation_id,
        status=row.status,
        requested_by=row.requested_by,
        question=row.question,
        desk_channel=row.desk_channel,
        desk_ts=row.desk_ts,
        created_at=row.created_at,
        resolved_at=row.resolved_at,
        resolved_by=row.resolved_by,
    )
