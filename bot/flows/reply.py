"""Streaming one model reply into flow events: written once, used by every flow."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Sequence

from bot.domain import TextDelta, TextDone, Thinking
from bot.flows.base import FlowEvent, ReplyMeta, TurnContext
from bot.llm.types import ChatMessage, ContentDelta, ReasoningDelta, StreamEnd

log = logging.getLogger(__name__)


async def stream_reply(
    ctx: TurnContext,
    messages: Sequence[ChatMessage],
    *,
    prompt_version: str,
    suffix: str = "",
    max_tokens: int | None = None,
    vet: Callable[[str], str] | None = None,
) -> AsyncIterator[FlowEvent]:
    """Thinking, the model's text as deltas, then `suffix` (fixed text such as the next
    question), one TextDone with the whole reply and the ReplyMeta to store with it.

    With `vet`, the model's text is held back and passed through it first (for a short
    text that must meet rules, such as the interviewer's acknowledgement)."""
    yield Thinking()
    parts: list[str] = []
    reasoning_chars = 0
    end: StreamEnd | None = None
    async for event in ctx.llm.stream(
        messages,
        temperature=ctx.temperature,
        max_tokens=max_tokens or ctx.max_tokens,
        session_id=ctx.session_id,
    ):
        if isinstance(event, ContentDelta):
            if not parts:
                event = ContentDelta(event.text.lstrip())
                if not event.text:
                    continue
            parts.append(event.text)
            if vet is None:
                yield TextDelta(event.text)
        elif isinstance(event, ReasoningDelta):
            reasoning_chars += len(event.text)  # counted, never shown
        else:
            end = event
    if reasoning_chars:
        log.debug("model reasoning kept out of the reply: %d characters", reasoning_chars)
    text = "".join(parts).rstrip()
    if vet is not None:
        text = vet(text)
        if text:
            yield TextDelta(text)
    if suffix:
        joiner = "\n\n" if text else ""
        yield TextDelta(joiner + suffix)
        text = f"{text}{joiner}{suffix}"
    yield TextDone(text)
    if end is not None:
        yield ReplyMeta(end.model, prompt_version, end.usage, end.ttft_ms, end.latency_ms)
