"""One turn: run the flow for one pending message, show its outputs, say how it ended.

The engine (bot/engine.py) decides *which* message runs and holds the locks; the
`TurnRunner` here runs it: picks the flow entry point, drives the flow beside the renderer,
turns every failure into a `FailureKind` and a notice, and builds what the turn writes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from bot import crashpoints
from bot.commands import (
    ACTION_RETRY_EVALUATION,
    COMMAND_ACTION_PREFIX,
    ConversationDeleted,
    Exporter,
    retry_evaluation,
    run_command,
)
from bot.delivery import payload_of
from bot.domain import (
    JSON,
    ConversationKey,
    InputKind,
    Message,
    Output,
    Platform,
    TextDone,
)
from bot.errors import DeliveryBlocked, LLMUnavailable, UserFacingError
from bot.flows.base import (
    Evaluated,
    Finished,
    Flow,
    FlowEvent,
    FlowState,
    ReplyMeta,
    TurnContext,
    UserInput,
)
from bot.lang import detect_lang
from bot.llm.transcription import TranscriptionUnavailable
from bot.ports import Deliverer, Renderer
from bot.resume.step import DocumentStep
from bot.speech.step import VoiceStep
from bot.store.api import (
    ConversationRecord,
    ConversationStatus,
    MessageRecord,
    NewEvaluation,
    NewReply,
    Store,
    TurnCommit,
)
from bot.texts import text

log = logging.getLogger(__name__)


class FailureKind(StrEnum):
    """How a turn failed; a turn that did not fail has `failure is None`."""

    UNAVAILABLE = "unavailable"  # the backend is down: the message stays pending
    USER = "user"  # a UserFacingError: answered with its notice, state unchanged
    INTERNAL = "internal"  # a bug: answered with a kind notice, state unchanged
    DELETED = "deleted"  # the user's data was erased by this turn: nothing to store


@dataclass(slots=True)
class TurnResult:
    """What one turn produced, gathered while the renderer shows it."""

    conversation_id: int
    lang: str
    outputs: list[Output] = field(default_factory=list)
    meta: ReplyMeta | None = None
    evaluation: Evaluated | None = None
    finished: str | None = None
    failure: FailureKind | None = None
    # Notices of a turn that stores nothing (backend down, data deleted): shown, not kept.
    notices: list[Output] = field(default_factory=list)


async def rejection(kind: str, lang: str, limit: int) -> AsyncIterator[FlowEvent]:
    yield Message(text(f"input_{kind}", lang, limit=limit))


ContextFor = Callable[[ConversationRecord, MessageRecord], Awaitable[TurnContext]]


class TurnRunner:
    def __init__(
        self,
        store: Store,
        renderers: Mapping[Platform, Renderer],
        context_for: ContextFor,
        *,
        max_input_chars: int,
        exporter: Exporter | None = None,
        voice: VoiceStep | None = None,
        documents: DocumentStep | None = None,
    ) -> None:
        self.voice = voice  # voice answers (bot.speech); None: a voice note is unsupported
        self.documents = documents  # résumés (bot.resume); None: a document is unsupported
        self.store = store
        self.renderers = renderers
        self.context_for = context_for
        self.max_input_chars = max_input_chars
        self.exporter = exporter
        self.told_unavailable: set[int] = set()  # conversations told the backend is down
        # Turns being rendered (conversation id -> key, output queue, result), so a notice
        # from outside the flow (the model queue's "you are number N") can reach the user.
        self.live: dict[int, tuple[ConversationKey, asyncio.Queue[Output | None], TurnResult]] = {}

    async def run(
        self, conversation: ConversationRecord, flow: Flow, message: MessageRecord
    ) -> tuple[TurnResult, FlowState]:
        """Run and render one message's turn; the caller stores the result."""
        state = flow.state_type.model_validate(conversation.state)
        ctx = await self.context_for(conversation, message)
        turn = TurnResult(conversation.id, state.lang)
        await self.render(conversation.key, self._events(flow, ctx, state, message), turn)
        crashpoints.reached("turn.previewed")
        return turn, state

    def _events(
        self, flow: Flow, ctx: TurnContext, state: FlowState, message: MessageRecord
    ) -> AsyncIterator[FlowEvent]:
        if message.kind == InputKind.START:
            return flow.on_start(ctx, state)
        if message.kind == InputKind.ACTION and message.action_id == ACTION_RETRY_EVALUATION:
            return retry_evaluation(flow, ctx, state)
        if message.kind == InputKind.COMMAND or message.action_id.startswith(COMMAND_ACTION_PREFIX):
            if not state.lang_chosen and detect_lang(message.text) == "zh":
                state.lang = "zh"  # command words are Latin: only Chinese text tells
            return run_command(ctx, flow, state, message, self.store, self.exporter)
        if message.kind == InputKind.VOICE and self.voice is not None:
            return self.voice.run(ctx, flow, state, message.action_id)
        if message.kind == InputKind.DOCUMENT and self.documents is not None:
            return self.documents.run(ctx, flow, state, message.action_id)
        if message.kind in (InputKind.VOICE, InputKind.DOCUMENT):
            return rejection("unsupported", state.lang, self.max_input_chars)
        if message.kind not in (InputKind.TEXT, InputKind.ACTION):
            lang = state.lang if state.lang_chosen else detect_lang(message.text) or state.lang
            return rejection(message.kind, lang, self.max_input_chars)
        user_input = UserInput(
            "action" if message.kind == InputKind.ACTION else "text",
            message.text,
            message.action_id,
        )
        return flow.on_input(ctx, state, user_input)

    async def render(
        self, key: ConversationKey, events: AsyncIterator[FlowEvent], turn: TurnResult
    ) -> None:
        """Run the flow and the renderer side by side; a flow failure becomes a notice."""
        queue: asyncio.Queue[Output | None] = asyncio.Queue()
        self.live[turn.conversation_id] = (key, queue, turn)
        producer = asyncio.create_task(self._produce(key, events, turn, queue))

        async def outputs() -> AsyncIterator[Output]:
            while (item := await queue.get()) is not None:
                yield item

        renderer = self.renderers.get(key.platform)
        try:
            if renderer is None:
                async for _ in outputs():
                    pass
            elif isinstance(renderer, Deliverer):
                await renderer.preview(key, outputs())  # the final outputs come after the commit
            else:
                await renderer(key, outputs())
        except DeliveryBlocked:
            log.warning("delivery to %s blocked by the platform", key.as_str())
            turn.finished = ConversationStatus.BLOCKED.value
        except Exception:
            log.exception("renderer failed for %s; the reply is stored", key.as_str())
        await producer
        self.live.pop(turn.conversation_id, None)

    async def _produce(
        self,
        key: ConversationKey,
        events: AsyncIterator[FlowEvent],
        turn: TurnResult,
        queue: asyncio.Queue[Output | None],
    ) -> None:
        try:
            async for event in events:
                if isinstance(event, ReplyMeta):
                    turn.meta = event
                elif isinstance(event, Evaluated):
                    turn.evaluation = event
                elif isinstance(event, Finished):
                    turn.finished = event.status
                else:
                    turn.outputs.append(event)
                    queue.put_nowait(event)
        except LLMUnavailable as exc:
            log.warning("backend unavailable for %s: %s", key.as_str(), exc)
            turn.failure = FailureKind.UNAVAILABLE
            if turn.conversation_id not in self.told_unavailable:
                self.told_unavailable.add(turn.conversation_id)
                notice = (
                    "voice_unavailable"
                    if isinstance(exc, TranscriptionUnavailable)
                    else "llm_unavailable"
                )
                turn.notices.append(Message(text(notice, turn.lang)))
                queue.put_nowait(turn.notices[-1])
        except UserFacingError as exc:
            log.info("user-facing error in %s: %s", key.as_str(), exc.detail or exc.text_key)
            self._fail(turn, FailureKind.USER, Message(text(exc.text_key, turn.lang)), queue)
        except ConversationDeleted:
            turn.failure = FailureKind.DELETED
            turn.notices.append(Message(text("delete_done", turn.lang)))
            queue.put_nowait(turn.notices[-1])
        except Exception:
            log.exception("turn failed in %s", key.as_str())
            self._fail(
                turn, FailureKind.INTERNAL, Message(text("internal_error", turn.lang)), queue
            )
        finally:
            queue.put_nowait(None)

    @staticmethod
    def _fail(
        turn: TurnResult,
        kind: FailureKind,
        notice: Message,
        queue: asyncio.Queue[Output | None],
    ) -> None:
        turn.failure = kind
        turn.outputs.append(notice)
        queue.put_nowait(notice)


def commit_for(
    conversation: ConversationRecord,
    answered: list[int],
    state: JSON,
    turn: TurnResult,
    *,
    delivered: bool = False,
) -> TurnCommit:
    """What a turn writes: its replies (the model's with their cost) each with what the
    outbox must deliver, the state, the status, the evaluation, and the user messages it
    answered (none for a bot notice). `delivered`: the replies were shown already."""
    meta = turn.meta
    replies = []
    for output in turn.outputs:
        delivery = payload_of(output)
        if delivery is None:
            continue
        body = str(delivery["text"]) or " / ".join(
            str(button["label"]) for button in delivery.get("buttons", [])
        )
        if not body:
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
                    delivery=delivery,
                )
            )
        else:
            kind = str(delivery.get("kind")) if delivery.get("kind") == "sources" else "text"
            replies.append(NewReply(body, delivery=delivery, kind=kind))
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
        delivered=delivered,
    )
