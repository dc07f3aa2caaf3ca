"""The engine: dedupe -> store the message -> one turn at a time per conversation -> load
state -> flow -> render -> store the reply.

Every user message is stored as PENDING before any model call. A per-conversation worker
drains the pending messages in order, holding an in-process lock and the store's
cross-process lock, and loads the state only after taking them. A message whose turn could
not reach the model stays PENDING and is answered when the backend is back; a restart picks
up whatever was pending. Delivery is pushed to the renderer an adapter attached.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

from bot import metrics
from bot.commands import (
    ACTION_RETRY_EVALUATION,
    COMMAND_ACTION_PREFIX,
    ConversationDeleted,
    Exporter,
    retry_evaluation,
    run_command,
)
from bot.domain import (
    ConversationKey,
    Handoff,
    Incoming,
    InputKind,
    Message,
    Output,
    Platform,
    UserRef,
)
from bot.errors import DeliveryBlocked, LLMUnavailable, UserFacingError
from bot.flows.base import (
    Evaluated,
    Finished,
    Flow,
    FlowEvent,
    FlowRegistry,
    FlowState,
    HistoryItem,
    ReplyMeta,
    TurnContext,
    UserInput,
)
from bot.inputs import check_input
from bot.llm.types import LLM
from bot.locks import KeyedLocks
from bot.ports import (
    ConversationEnded,
    DomainEvent,
    EvaluationStored,
    HandoffRequested,
    Listener,
    Receipt,
    Renderer,
)
from bot.prompts import PromptLibrary
from bot.starts import ConversationStarter, incoming_lang
from bot.store.api import (
    ConversationRecord,
    ConversationStatus,
    MessageRecord,
    MessageStatus,
    Store,
)
from bot.texts import text
from bot.turn import TurnResult, commit_for, rejection

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class EngineOptions:
    company_name: str = "Acme"
    max_input_chars: int = 8000
    max_tokens: int = 512
    temperature: float = 0.3
    retry_interval_s: float = 5.0  # how often saved messages are retried during an outage
    require_invitation: bool = False
    retake_after_days: int = 180  # one interview per candidate and role within this window
    evaluation_samples: int = 1
    retention_days: int = 180


class Engine:
    def __init__(
        self,
        store: Store,
        llm: LLM,
        prompts: PromptLibrary,
        flows: FlowRegistry,
        options: EngineOptions | None = None,
        exporter: Exporter | None = None,
    ) -> None:
        self.store, self.llm, self.prompts, self.flows = store, llm, prompts, flows
        self.exporter = exporter
        self.options = options or EngineOptions()
        self._renderers: dict[Platform, Renderer] = {}
        self._listeners: list[Listener] = []
        self._turn_locks = KeyedLocks()  # conversation id -> one turn at a time
        self._key_locks = KeyedLocks()  # conversation key -> one input recorded at a time
        self._workers: dict[int, asyncio.Task[None]] = {}
        self._dirty: set[int] = set()
        self._waiters: dict[int, asyncio.Future[None]] = {}
        self._told_unavailable: set[int] = set()
        self._retry_task: asyncio.Task[None] | None = None
        self._starter = ConversationStarter(
            store,
            flows,
            prompts,
            self.options.require_invitation,
            retake_after_days=self.options.retake_after_days,
        )
        self.backend_up = True

    # ---- the adapters' side (bot.ports.EngineAPI) ---------------------------------------

    def attach(self, platform: Platform, renderer: Renderer) -> None:
        self._renderers[platform] = renderer

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    async def submit(self, incoming: Incoming) -> Receipt:
        # One input per conversation key at a time in this process: two first messages
        # (or a redelivered pair) must not each create a conversation.
        async with self._key_locks.hold(incoming.key):
            message, accepted = await self._record(incoming)
        if message is None:
            return Receipt(accepted=accepted)
        done = asyncio.get_running_loop().create_future()
        self._waiters[message.id] = done
        self.kick(message.conversation_id)
        return Receipt(True, message.conversation_id, message.id, done)

    async def _record(self, incoming: Incoming) -> tuple[MessageRecord | None, bool]:
        """Store the input as a pending message. No message for a duplicate (not accepted)
        or for a start refused before any conversation existed (answered right away)."""
        platform = incoming.key.platform
        if incoming.event_id and await self.store.event_seen(platform, incoming.event_id):
            log.info("duplicate %s event %s dropped", platform.value, incoming.event_id)
            metrics.DUPLICATES.inc()
            return None, False
        user_id = await self.store.ensure_user(incoming.user)
        try:
            conversation, incoming = await self._starter.for_incoming(incoming, user_id)
        except UserFacingError as exc:
            log.info("start refused for %s: %s", incoming.key.as_str(), exc.detail or exc.text_key)
            notice = Message(text(exc.text_key, incoming_lang(incoming)))
            await self._deliver_now(incoming.key, [notice])
            return None, True
        kind, body = check_input(incoming, self.options.max_input_chars)
        event = (platform, incoming.event_id) if incoming.event_id else None
        message = await self.store.record_user_message(
            conversation.id,
            kind=kind,
            text=body,
            action_id=incoming.action_id,
            event=event,
            user_id=user_id,
        )
        return message, message is not None

    # ---- life cycle ------------------------------------------------------------------

    async def start(self) -> None:
        """Resume what was pending before a restart, and keep retrying during outages."""
        await self.resume()
        self._retry_task = asyncio.create_task(self._retry_loop(), name="engine-retry")

    async def stop(self) -> None:
        tasks = [t for t in [self._retry_task, *self._workers.values()] if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._workers.clear()

    async def resume(self) -> None:
        for conversation_id in await self.store.conversations_with_pending():
            self.kick(conversation_id)

    async def idle(self) -> None:
        """Wait until no turn is running (tests, the terminal at end of input)."""
        while running := [t for t in self._workers.values() if not t.done()]:
            await asyncio.wait(running)

    async def notify(
        self,
        conversation_id: int,
        outputs: list[Output],
        status: ConversationStatus | None = None,
    ) -> None:
        """A message the bot starts (a reminder, an expiry), in order with the turns: under
        the conversation's locks, rendered, stored, and the status changed if asked."""
        async with (
            self._turn_locks.hold(conversation_id),
            self.store.conversation_lock(conversation_id),
        ):
            conversation = await self.store.get_conversation(conversation_id)
            turn = TurnResult(conversation_id, str(conversation.state.get("lang", "en")))

            async def events() -> AsyncIterator[FlowEvent]:
                for output in outputs:
                    yield output

            await self._render(conversation.key, events(), turn)
            if status is not None and turn.finished is None:
                turn.finished = status.value
            await self.store.commit_turn(commit_for(conversation, [], conversation.state, turn))
            await self._announce(conversation, turn, None)

    def kick(self, conversation_id: int) -> None:
        self._dirty.add(conversation_id)
        worker = self._workers.get(conversation_id)
        if worker is None or worker.done():
            self._workers[conversation_id] = asyncio.create_task(
                self._drain(conversation_id), name=f"conversation-{conversation_id}"
            )

    # ---- turns -----------------------------------------------------------------------

    async def _drain(self, conversation_id: int) -> None:
        try:
            async with (
                self._turn_locks.hold(conversation_id),
                self.store.conversation_lock(conversation_id),
            ):
                while conversation_id in self._dirty:
                    self._dirty.discard(conversation_id)
                    for message in await self.store.pending_messages(conversation_id):
                        if not await self._turn(conversation_id, message):
                            return  # the backend is down: the retry loop comes back
        except Exception:
            log.exception("worker of conversation %s failed", conversation_id)
        finally:
            if self._workers.get(conversation_id) is asyncio.current_task():
                del self._workers[conversation_id]  # a later kick starts a new worker
                if conversation_id in self._dirty and self.backend_up:
                    # A message arrived while the locks were being released.
                    self.kick(conversation_id)

    async def _turn(self, conversation_id: int, message: MessageRecord) -> bool:
        """One pending message; False when it must wait for the backend."""
        conversation = await self.store.get_conversation(conversation_id)
        if conversation.status is not ConversationStatus.ACTIVE:
            await self.store.mark_message(message.id, MessageStatus.REJECTED)
            self._resolve(message.id)
            return True
        flow = self.flows.get(conversation.flow)
        state = flow.state_type.model_validate(conversation.state)
        ctx = await self._context(conversation, message)
        turn = TurnResult(conversation_id, state.lang)
        events = self._events(flow, ctx, state, message)
        await self._render(conversation.key, events, turn)
        metrics.TURNS.labels(conversation.flow, turn.failure or "ok").inc()
        if turn.failure == "unavailable":
            self.backend_up = False
            return False
        metrics.observe_reply(turn.meta)
        self.backend_up = True
        self._told_unavailable.discard(conversation_id)
        if turn.failure == "deleted":
            self._resolve(message.id)
            return True
        # A failed turn answers the message with its notice but leaves the state as it was.
        written = conversation.state if turn.failure else state.model_dump(mode="json")
        commit = commit_for(conversation, [message.id], written, turn)
        evaluation_id = await self.store.commit_turn(commit)
        self._resolve(message.id)
        await self._announce(conversation, turn, evaluation_id)
        return True

    def _events(
        self, flow: Flow, ctx: TurnContext, state: FlowState, message: MessageRecord
    ) -> AsyncIterator[FlowEvent]:
        if message.kind == InputKind.START:
            return flow.on_start(ctx, state)
        if message.kind == InputKind.ACTION and message.action_id == ACTION_RETRY_EVALUATION:
            return retry_evaluation(flow, ctx, state)
        if message.kind == InputKind.COMMAND or message.action_id.startswith(COMMAND_ACTION_PREFIX):
            return run_command(ctx, flow, state, message, self.store, self.exporter)
        if message.kind not in (InputKind.TEXT, InputKind.ACTION):
            return rejection(message.kind, state.lang, self.options.max_input_chars)
        user_input = UserInput(
            "action" if message.kind == InputKind.ACTION else "text",
            message.text,
            message.action_id,
        )
        return flow.on_input(ctx, state, user_input)

    async def _render(
        self, key: ConversationKey, events: AsyncIterator[FlowEvent], turn: TurnResult
    ) -> None:
        """Run the flow and the renderer side by side; a flow failure becomes a notice."""
        queue: asyncio.Queue[Output | None] = asyncio.Queue()
        producer = asyncio.create_task(self._produce(key, events, turn, queue))

        async def outputs() -> AsyncIterator[Output]:
            while (item := await queue.get()) is not None:
                yield item

        renderer = self._renderers.get(key.platform)
        try:
            if renderer is None:
                async for _ in outputs():
                    pass
            else:
                await renderer(key, outputs())
        except DeliveryBlocked:
            log.warning("delivery to %s blocked by the platform", key.as_str())
            turn.finished = ConversationStatus.BLOCKED.value
        except Exception:
            log.exception("renderer failed for %s; the reply is stored", key.as_str())
        await producer

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
            turn.failure = "unavailable"
            if turn.conversation_id not in self._told_unavailable:
                self._told_unavailable.add(turn.conversation_id)
                queue.put_nowait(Message(text("llm_unavailable", turn.lang)))
        except UserFacingError as exc:
            log.info("user-facing error in %s: %s", key.as_str(), exc.detail or exc.text_key)
            turn.failure = "user"
            notice = Message(text(exc.text_key, turn.lang))
            turn.outputs.append(notice)
            queue.put_nowait(notice)
        except ConversationDeleted:
            turn.failure = "deleted"
            queue.put_nowait(Message(text("delete_done", turn.lang)))
        except Exception:
            log.exception("turn failed in %s", key.as_str())
            turn.failure = "internal"
            notice = Message(text("internal_error", turn.lang))
            turn.outputs.append(notice)
            queue.put_nowait(notice)
        finally:
            queue.put_nowait(None)

    # ---- helpers -----------------------------------------------------------------------

    async def _context(
        self, conversation: ConversationRecord, message: MessageRecord
    ) -> TurnContext:
        history = [
            HistoryItem(m.role.value, m.text) for m in await self.store.history(conversation.id)
        ]
        user = (
            await self.store.get_user(conversation.user_id)
            if conversation.user_id is not None
            else None
        )
        return TurnContext(
            conversation_id=conversation.id,
            llm=self.llm,
            prompts=self.prompts,
            history=history,
            user=UserRef(user.platform, user.platform_user_id, user.display_name, user.locale)
            if user is not None
            else UserRef(conversation.key.platform, conversation.key.user_id),
            user_id=conversation.user_id,
            company_name=self.options.company_name,
            max_tokens=self.options.max_tokens,
            temperature=self.options.temperature,
            evaluation_samples=self.options.evaluation_samples,
            retention_days=self.options.retention_days,
        )

    async def _announce(
        self, conversation: ConversationRecord, turn: TurnResult, evaluation_id: int | None
    ) -> None:
        events: list[DomainEvent] = []
        if evaluation_id is not None and turn.evaluation is not None:
            ok = turn.evaluation.status == "ok"
            events.append(EvaluationStored(conversation.id, evaluation_id, ok))
        for output in turn.outputs:
            if isinstance(output, Handoff):
                events.append(
                    HandoffRequested(
                        conversation.id, conversation.key, output.reason, output.summary
                    )
                )
        if turn.finished is not None:
            events.append(ConversationEnded(conversation.id, conversation.key, turn.finished))
        for event in events:
            for listener in self._listeners:
                try:
                    await listener(event)
                except Exception:
                    log.exception("listener failed on %s", type(event).__name__)

    async def _deliver_now(self, key: ConversationKey, outputs: list[Output]) -> None:
        """Outputs that belong to no stored turn (a refused start)."""
        renderer = self._renderers.get(key.platform)
        if renderer is None:
            return

        async def stream() -> AsyncIterator[Output]:
            for output in outputs:
                yield output

        try:
            await renderer(key, stream())
        except Exception:
            log.exception("could not deliver a notice to %s", key.as_str())

    def _resolve(self, message_id: int) -> None:
        waiter = self._waiters.pop(message_id, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def _retry_loop(self) -> None:
        while True:
            await asyncio.sleep(self.options.retry_interval_s)
            try:
                await self.resume()
            except Exception:
                log.exception("retrying saved messages failed; trying again later")
