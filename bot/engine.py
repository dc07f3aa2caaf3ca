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
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from bot import crashpoints, metrics
from bot.commands import (
    Exporter,
)
from bot.delivery import DeliveryPolicy, Outbox, Outcome
from bot.domain import (
    JSON,
    ConversationKey,
    Handoff,
    Incoming,
    Message,
    Output,
    Platform,
    UserRef,
    utcnow,
)
from bot.errors import UserFacingError
from bot.flows.base import (
    Checkpoints,
    FlowEvent,
    FlowRegistry,
    HistoryItem,
    TurnContext,
)
from bot.inputs import REJECTED_KINDS, check_input
from bot.lang import detect_lang
from bot.llm.types import LLM
from bot.locks import KeyedLocks
from bot.ports import (
    ConversationEnded,
    Deliverer,
    DomainEvent,
    EvaluationStored,
    HandedOffMessage,
    HandoffRequested,
    Listener,
    Receipt,
    Renderer,
)
from bot.prompts import PromptLibrary
from bot.ratelimit import RATE_LIMITED_QUIET, RateLimiter
from bot.resume.step import DocumentStep
from bot.retry import Backoff, FailureLog
from bot.speech.step import VoiceStep
from bot.starts import ConversationStarter, incoming_lang
from bot.store.api import (
    ConversationRecord,
    ConversationStatus,
    MessageRecord,
    MessageStatus,
    Store,
)
from bot.texts import text
from bot.turn import FailureKind, TurnResult, TurnRunner, commit_for, rejection

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class EngineOptions:
    company_name: str = "Acme"
    max_input_chars: int = 8000
    max_tokens: int = 512
    temperature: float = 0.3
    retry_interval_s: float = 5.0  # how often saved messages are retried during an outage
    # The retry loop takes a message stored by another process only once it has waited this
    # long: a live process answers its own (see Engine.retry).
    retry_grace_s: float = 60.0
    require_invitation: bool = False
    retake_after_days: int = 180  # one interview per candidate and role within this window
    evaluation_samples: int = 1
    retention_days: int = 180
    first_delivery_retry_s: float = 2.0  # an undelivered reply: tried again after this, doubling
    history_limit: int = 200  # newest messages loaded for a prompt; the budget trims further
    rate_limit_per_minute: int = 0  # per user; 0: off (Settings holds the product's 20)
    support_idle_hours: float = 8.0  # a help-desk DM starts a new session after this silence


class Engine:
    def __init__(
        self,
        store: Store,
        llm: LLM,
        prompts: PromptLibrary,
        flows: FlowRegistry,
        options: EngineOptions | None = None,
        exporter: Exporter | None = None,
        voice: VoiceStep | None = None,
        documents: DocumentStep | None = None,
        clock: Callable[[], datetime] = utcnow,
        checkpoints: Callable[[int], Checkpoints] | None = None,
    ) -> None:
        self.store, self.llm, self.prompts, self.flows = store, llm, prompts, flows
        self._clock = clock  # what the retry loop's grace is measured by (tests set it)
        self.exporter = exporter
        self._checkpoints = checkpoints  # conversation id -> where its turns save work
        self.voice = voice  # adapters register their AudioSource on it
        # Résumés need nothing but the platform's download: adapters register theirs on it.
        self.documents = documents or DocumentStep()
        self.options = options or EngineOptions()
        self._renderers: dict[Platform, Renderer] = {}
        self._listeners: list[Listener] = []
        self._turn_locks = KeyedLocks()  # conversation id -> one turn at a time
        self._key_locks = KeyedLocks()  # conversation key -> one input recorded at a time
        self._workers: dict[int, asyncio.Task[None]] = {}
        self._dirty: set[int] = set()
        self._waiters: dict[int, asyncio.Future[None]] = {}
        self._receipts: dict[int, set[int]] = {}  # conversation id -> messages with waiters
        self._unavailable: set[int] = set()  # conversations waiting for the backend
        # A failed worker is retried later and later (bot.retry), never at once in a loop.
        self._backoff = Backoff(cap_s=max(30.0, self.options.retry_interval_s))
        self._failures = FailureLog(log)
        self._delayed: dict[int, asyncio.TimerHandle] = {}
        self._notices: set[asyncio.Task[None]] = set()  # queue notices being shown
        self._retry_task: asyncio.Task[None] | None = None
        self._starter = ConversationStarter(
            store,
            flows,
            prompts,
            self.options.require_invitation,
            self.options.support_idle_hours,
            retake_after_days=self.options.retake_after_days,
        )
        self._rate_limit = RateLimiter(self.options.rate_limit_per_minute)
        self.backend_up = True
        self._outbox = Outbox(
            store,
            self._deliverer,
            DeliveryPolicy(first_retry_s=self.options.first_delivery_retry_s),
        )
        self._runner = TurnRunner(
            store,
            self._renderers,
            self._context,
            max_input_chars=self.options.max_input_chars,
            exporter=exporter,
            voice=voice,
            documents=self.documents,
        )

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
        self._receipts.setdefault(message.conversation_id, set()).add(message.id)
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
        kind = self._rate_limit.kind_for(incoming, kind)
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
        for handle in self._delayed.values():
            handle.cancel()
        self._delayed.clear()

    async def resume(self) -> None:
        """Kick every conversation with a message to answer or a reply due for delivery
        (not those whose worker runs: it reads them anyway, re-reading would be waste).
        At start-up: whatever was pending before a restart, whoever stored it."""
        await self._kick_stored(None)

    async def retry(self) -> None:
        """One round of the retry loop: this process's conversations that wait for the
        backend, replies due for delivery, and messages pending longer than
        `retry_grace_s`. A live process answers the messages it stored itself (it kicked
        them as they came, and a backlog drains at its own pace); taking them from it
        would only queue behind its locks. A process that died left its messages pending:
        the others take them after the grace (or it does itself at its restart)."""
        waiting, self._unavailable = self._unavailable, set()
        for conversation_id in waiting:
            self._kick_idle(conversation_id)
        grace = timedelta(seconds=self.options.retry_grace_s)
        await self._kick_stored(self._clock() - grace)

    async def _kick_stored(self, stored_before: datetime | None) -> None:
        due = await self.store.conversations_with_due_deliveries(self._clock())
        pending = await self.store.conversations_with_pending(stored_before=stored_before)
        for conversation_id in [*pending, *due]:
            self._kick_idle(conversation_id)
        await self._outbox.refresh_gauges()

    def _kick_idle(self, conversation_id: int) -> None:
        worker = self._workers.get(conversation_id)
        if worker is None or worker.done():
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
        the conversation's locks, stored, delivered, and the status changed if asked."""
        async with (
            self._turn_locks.hold(conversation_id),
            self.store.conversation_lock(conversation_id),
        ):
            conversation = await self.store.get_conversation(conversation_id)
            turn = TurnResult(conversation_id, str(conversation.state.get("lang", "en")))

            async def events() -> AsyncIterator[FlowEvent]:
                for output in outputs:
                    yield output

            await self._runner.render(conversation.key, events(), turn)
            if status is not None and turn.finished is None:
                turn.finished = status.value
            await self._store_and_deliver(conversation, [], conversation.state, turn)

    def kick(self, conversation_id: int) -> None:
        self._dirty.add(conversation_id)
        wait = self._backoff.wait_left(conversation_id)
        if wait > 0:  # it failed a moment ago: come back when its backoff ends
            if conversation_id not in self._delayed:
                self._delayed[conversation_id] = asyncio.get_running_loop().call_later(
                    wait, self._kick_delayed, conversation_id
                )
            return
        worker = self._workers.get(conversation_id)
        if worker is None or worker.done():
            self._workers[conversation_id] = asyncio.create_task(
                self._drain(conversation_id), name=f"conversation-{conversation_id}"
            )

    def _kick_delayed(self, conversation_id: int) -> None:
        self._delayed.pop(conversation_id, None)
        self.kick(conversation_id)

    def queue_notice(self, session_id: str, position: int) -> None:
        """The model queue (bot.llm.queue) says a turn waits: tell its user, once per wait.
        With an outbox the notice is a message of its own, shown now and not stored; a plain
        renderer gets it in the turn's stream. Session ids are TurnContext.session_id's."""
        _, _, number = session_id.rpartition("-")
        live = self._runner.live.get(int(number)) if number.isdigit() else None
        if live is None:
            return
        key, queue, turn = live
        notice = Message(text("llm_queue_position", turn.lang, position=position))
        deliverer = self._deliverer(key.platform)
        if deliverer is None:
            queue.put_nowait(notice)
            return
        task = asyncio.create_task(self._show_now(deliverer, key, notice))
        self._notices.add(task)
        task.add_done_callback(self._notices.discard)

    # ---- turns -----------------------------------------------------------------------

    async def _drain(self, conversation_id: int) -> None:
        try:
            async with (
                self._turn_locks.hold(conversation_id),
                self.store.conversation_lock(conversation_id),
            ):
                # Replies stored before a restart or a platform outage go first, in order.
                conversation = await self.store.get_conversation(conversation_id)
                # The row just read serves the first turn (one read less per turn) unless the
                # delivery blocked the conversation: nothing else under these locks writes it,
                # and a writer outside them (a hand-off) races with the whole turn anyway.
                # Every later turn reads the row the turn before it wrote.
                blocked = await self._deliver(conversation) is Outcome.BLOCKED
                current = None if blocked else conversation
                while conversation_id in self._dirty:
                    self._dirty.discard(conversation_id)
                    for message in await self.store.pending_messages(conversation_id):
                        answered = await self._turn(conversation_id, message, current)
                        current = None
                        if not answered:
                            # the backend is down: the retry loop comes back
                            self._unavailable.add(conversation_id)
                            return
                # Every message this process stored here was read since (its kick made the
                # loop read again): those not among the pending were answered by another
                # process; their receipts say so too.
                for message_id in self._receipts.pop(conversation_id, ()):
                    self._resolve(message_id)
            self._backoff.succeeded(conversation_id)
        except Exception:  # noqa: BLE001 - logged, rate-limited, by self._failures
            delay = self._backoff.failed(conversation_id)
            self._failures.failure(
                "worker of conversation %s failed; retrying in %.1f s", conversation_id, delay
            )
            self._dirty.add(conversation_id)  # its messages are still pending
        finally:
            if self._workers.get(conversation_id) is asyncio.current_task():
                del self._workers[conversation_id]  # a later kick starts a new worker
                if conversation_id in self._dirty and self.backend_up:
                    # A message arrived while the locks were being released.
                    self.kick(conversation_id)

    async def _turn(
        self,
        conversation_id: int,
        message: MessageRecord,
        current: ConversationRecord | None = None,
    ) -> bool:
        """One pending message; False when it must wait for the backend. `current`: the
        conversation's row, read under the same locks with nothing written since."""
        conversation = current or await self.store.get_conversation(conversation_id)
        if conversation.status is ConversationStatus.HANDED_OFF:
            await self._pass_to_people(conversation, message)  # quiet: people answer now
            return True
        if conversation.status is not ConversationStatus.ACTIVE:
            await self.store.mark_message(message.id, MessageStatus.REJECTED)
            self._resolve(message.id)
            return True
        if message.kind in REJECTED_KINDS:
            await self._reject(conversation, message)
            return True
        flow = self.flows.get(conversation.flow)
        turn, state = await self._runner.run(conversation, flow, message)
        metrics.TURNS.labels(conversation.flow, turn.failure or "ok").inc()
        if turn.failure is FailureKind.UNAVAILABLE:
            self.backend_up = False
            await self._show_notices(conversation.key, turn)
            return False
        metrics.observe_reply(turn.meta)
        self.backend_up = True
        self._runner.told_unavailable.discard(conversation_id)
        if turn.failure is FailureKind.DELETED:
            await self._show_notices(conversation.key, turn)
            self._resolve(message.id)
            return True
        # A failed turn answers the message with its notice but leaves the state as it was.
        written = conversation.state if turn.failure else state.model_dump(mode="json")
        await self._store_and_deliver(conversation, [message.id], written, turn)
        self._resolve(message.id)
        return True

    async def _reject(self, conversation: ConversationRecord, message: MessageRecord) -> None:
        """Bad or rate-limited input: answered with a notice (a quiet one with none), stored
        as REJECTED in the same transaction, so it never enters a prompt."""
        lang = str(conversation.state.get("lang", "en"))
        if not conversation.state.get("lang_chosen"):
            lang = detect_lang(message.text) or lang  # refused in the language it was written
        turn = TurnResult(conversation.id, lang)
        if message.kind != RATE_LIMITED_QUIET:
            notice = rejection(message.kind, turn.lang, self.options.max_input_chars)
            await self._runner.render(conversation.key, notice, turn)
        await self._store_and_deliver(conversation, [], conversation.state, turn, [message.id])
        self._resolve(message.id)

    async def _store_and_deliver(
        self,
        conversation: ConversationRecord,
        answered: list[int],
        state: JSON,
        turn: TurnResult,
        rejected: list[int] | None = None,
    ) -> None:
        """Commit the turn with its replies in the outbox, then deliver them (bot/delivery.py).
        A renderer without an outbox has shown them already: they are stored as delivered."""
        deliverer = self._deliverer(conversation.key.platform)
        commit = commit_for(conversation, answered, state, turn, delivered=deliverer is None)
        if rejected:
            commit = replace(commit, rejected_message_ids=rejected)
        evaluation_id = await self.store.commit_turn(commit)
        crashpoints.reached("turn.committed")
        if deliverer is not None:
            await self._show_notices(conversation.key, turn)
            # The outbox rows just written: no earlier attempt can have shown them.
            fresh = sum(reply.delivery is not None for reply in commit.replies)
            await self._deliver(conversation, fresh)
        await self._announce(conversation, turn, evaluation_id)

    async def _deliver(self, conversation: ConversationRecord, fresh: int = 0) -> Outcome:
        outcome = await self._outbox.deliver_pending(conversation.id, conversation.key, fresh)
        if outcome is Outcome.BLOCKED and conversation.status is ConversationStatus.ACTIVE:
            await self.store.set_conversation_status(conversation.id, ConversationStatus.BLOCKED)
            blocked = ConversationStatus.BLOCKED.value
            await self._emit([ConversationEnded(conversation.id, conversation.key, blocked)])
        return outcome

    def _deliverer(self, platform: Platform) -> Deliverer | None:
        renderer = self._renderers.get(platform)
        return renderer if isinstance(renderer, Deliverer) else None

    async def _show_notices(self, key: ConversationKey, turn: TurnResult) -> None:
        """Notices of a turn that stores nothing: shown once, best effort (with an outbox;
        a plain renderer showed them with the turn)."""
        deliverer = self._deliverer(key.platform)
        if deliverer is None:
            return
        for notice in turn.notices:
            await self._show_now(deliverer, key, notice)

    async def _show_now(self, deliverer: Deliverer, key: ConversationKey, output: Output) -> None:
        try:
            await deliverer.deliver(key, output)
        except Exception:
            log.warning("could not show a notice to %s", key.as_str(), exc_info=True)

    # ---- helpers -----------------------------------------------------------------------

    async def _context(
        self, conversation: ConversationRecord, message: MessageRecord
    ) -> TurnContext:
        recent = await self.store.recent_history(conversation.id, self.options.history_limit)
        history = [HistoryItem(m.role.value, m.text) for m in recent]
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
            role_allowed=self._role_allowed(conversation.user_id),
            checkpoints=self._checkpoints(conversation.id) if self._checkpoints else None,
        )

    def _role_allowed(self, user_id: int | None) -> Callable[[str], Awaitable[bool]] | None:
        if user_id is None:
            return None
        retakes = self._starter.retakes

        async def allowed(role_id: str) -> bool:
            return await retakes.refusal(user_id, role_id, invitation=None) is None

        return allowed

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
        await self._emit(events)

    async def _emit(self, events: list[DomainEvent]) -> None:
        for event in events:
            for listener in self._listeners:
                try:
                    await listener(event)
                except Exception:
                    log.exception("listener failed on %s", type(event).__name__)

    async def _pass_to_people(
        self, conversation: ConversationRecord, message: MessageRecord
    ) -> None:
        await self.store.mark_message(message.id, MessageStatus.ANSWERED)
        self._resolve(message.id)
        event = HandedOffMessage(
            conversation.id, conversation.key, message.id, message.kind, message.text
        )
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
        if isinstance(renderer, Deliverer):
            for output in outputs:
                await self._show_now(renderer, key, output)
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
        delay = self.options.retry_interval_s
        while True:
            await asyncio.sleep(delay)
            try:
                await self.retry()
            except Exception:  # noqa: BLE001 - logged, rate-limited, by self._failures
                delay = max(self.options.retry_interval_s, self._backoff.failed("resume"))
                self._failures.failure("retrying saved messages failed; next in %.1f s", delay)
            else:
                self._backoff.succeeded("resume")
                delay = self.options.retry_interval_s
