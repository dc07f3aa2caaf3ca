"""One turn's result, and how it is written to the store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from bot.domain import JSON, Message, Output, TextDelta, TextDone
from bot.flows.base import Evaluated, FlowEvent, ReplyMeta
from bot.store.api import (
    ConversationRecord,
    ConversationStatus,
    NewEvaluation,
    NewReply,
    TurnCommit,
)
from bot.texts import text


@dataclass(slots=True)
class TurnResult:
    """What one turn produced, gathered while the renderer shows it."""

    conversation_id: int
    lang: str
    outputs: list[Output] = field(default_factory=list)
    meta: ReplyMeta | None = None
    evaluation: Evaluated | None = None
    finished: str | None = None
    failure: str | None = None  # "unavailable" | "user" | "internal"


async def rejection(kind: str, lang: str, limit: int) -> AsyncIterator[FlowEvent]:
    yield Message(text(f"input_{kind}", lang, limit=limit))


def commit_for(
    conversation: ConversationRecord, answered: list[int], state: JSON, turn: TurnResult
) -> TurnCommit:
    """What a turn writes: its replies (the model's with their cost), the state, the
    status, the evaluation, and the user messages it answered (none for a bot notice)."""
    meta = turn.meta
    replies = []
    for output in turn.outputs:
        body = getattr(output, "text", "")
        if not body or isinstance(output, TextDelta):
            continue
        if isinstance(output, TextDone) and meta is not None:
            usage = meta.usage
            replies.append(
                NewReply(
                    body,
                    model=meta.model,
                    prompt_version=meta.prompt_version,
                    prompt_tokens=usage.prompt_tokens if usage else None,
                    completion_tokens=usage.completion_tokens if usage else None,
                    cached_tokens=usage.cached_tokens if usage else None,
                    ttft_ms=meta.ttft_ms,
                    latency_ms=meta.latency_ms,
                )
            )
        else:
            replies.append(NewReply(body))
    evaluation = None
    if turn.evaluation is not None:
        e = turn.evaluation
        evaluation = NewEvaluation(
            e.status, e.data, e.raw_output, e.model, e.prompt_version, e.role_version, e.error
        )
    status = ConversationStatus(turn.finished) if turn.finished else conversation.status
    return TurnCommit(
        conversation_id=conversation.id,
        answered_message_ids=answered,
        state=state,
        status=status,
        replies=replies,
        evaluation=evaluation,
    )
