"""Hand-off to people through the escalation channel (BOT_SLACK_ESCALATION_CHANNEL).

When a help-desk conversation asks for a person (the engine's `HandoffRequested`, on any
platform), the relay opens the hand-off (the conversation becomes HANDED_OFF: the engine
stops answering it) and posts who asked, the question, a link to the conversation and the
passages found, with a Resolved button. From then on:
- a help-desk member's reply in that post's thread reaches the employee (engine.notify:
  stored and rendered in order with the conversation, Telegram included);
- the employee's messages (the engine's `HandedOffMessage`) are posted into that thread;
- Resolved closes the hand-off, gives the conversation back to the bot and tells the
  employee. Every step is audited by the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from functools import partial
from typing import Any, Protocol

from slack_bolt.app.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.client import call_slack, error_of
from adapters.slack.events import is_from_a_person
from adapters.slack.handoff_blocks import ACTION_RESOLVE, escalation_blocks, resolved_blocks
from bot import metrics
from bot.domain import ConversationKey, Message, Output, Platform
from bot.errors import DeliveryBlocked
from bot.ports import DomainEvent, EngineAPI, HandedOffMessage, HandoffRequested
from bot.store.api import ConversationStatus, HandoffRecord, HelpDeskStore, Store
from bot.texts import text

log = logging.getLogger(__name__)

JSONDict = dict[str, Any]


class NotifyingEngine(EngineAPI, Protocol):
    async def notify(
        self,
        conversation_id: int,
        outputs: list[Output],
        status: ConversationStatus | None = None,
    ) -> None: ...


class HandoffRelay:
    def __init__(
        self,
        channel: str,
        engine: NotifyingEngine,
        store: Store,
        records: HelpDeskStore,
        client: AsyncWebClient,
    ) -> None:
        self.channel = channel
        self._engine, self._store, self._records, self._client = engine, store, records, client
        self._last_ts: dict[ConversationKey, str] = {}  # a DM's latest message, for its link
        self._names: dict[str, str] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._locks: dict[int, asyncio.Lock] = {}

    def register(self, app: AsyncApp) -> None:
        app.action(ACTION_RESOLVE)(self._on_resolve)

    async def close(self) -> None:
        """Let notices still being delivered finish (the store closes after us)."""
        running = [t for t in self._tasks if t is not asyncio.current_task()]
        if running:
            await asyncio.gather(*running, return_exceptions=True)

    def seen(self, key: ConversationKey, ts: str) -> None:
        """Where a top-level DM conversation last was, for the escalation post's link."""
        self._last_ts[key] = ts
        while len(self._last_ts) > 4096:
            self._last_ts.pop(next(iter(self._last_ts)))

    # ---- the engine's side ---------------------------------------------------------------

    async def on_event(self, event: DomainEvent) -> None:
        # Called while the conversation's turn lock is held: never engine.notify from here
        # directly (a task does it, after the lock is released).
        if isinstance(event, HandoffRequested):
            await self._open(event)
        elif isinstance(event, HandedOffMessage):
            await self._to_desk(event)

    async def _open(self, event: HandoffRequested) -> None:
        conversation = await self._store.get_conversation(event.conversation_id)
        who, asker = await self._who(conversation.user_id, event.key)
        handoff = await self._records.open_handoff(event.conversation_id, asker, event.summary)
        if handoff is None:
            log.info("handoff: conversation %s is with people already", event.conversation_id)
            return
        try:
            blocks = await self._post_blocks(handoff, event.key, who)
            response = await call_slack(
                partial(
                    self._client.chat_postMessage,
                    channel=self.channel,
                    text=text("desk_escalation_title", who=who),
                    blocks=blocks,
                )
            )
        except (SlackApiError, DeliveryBlocked, OSError) as failure:
            log.error("handoff: the escalation channel refused the post: %s", _why(failure))
            await self._records.cancel_handoff(handoff.id, "escalation post failed")
            lang = str(conversation.state.get("lang", "en"))
            self._later(event.conversation_id, [Message(text("desk_handoff_failed", lang))])
            return
        await self._records.set_handoff_thread(handoff.id, self.channel, str(response["ts"]))
        metrics.HELP_ESCALATIONS.inc()
        log.info("handoff %s opened for conversation %s", handoff.id, event.conversation_id)

    async def _to_desk(self, event: HandedOffMessage) -> None:
        handoff = await self._records.handoff_of_conversation(event.conversation_id)
        if handoff is None or not handoff.desk_ts:
            log.warning("handoff: message %s has no escalation thread", event.message_id)
            return
        conversation = await self._store.get_conversation(event.conversation_id)
        who, _ = await self._who(conversation.user_id, event.key)
        body = event.text if event.kind == "text" else f"[{event.kind}] {event.text}".strip()
        try:
            await call_slack(
                partial(
                    self._client.chat_postMessage,
                    channel=handoff.desk_channel,
                    thread_ts=handoff.desk_ts,
                    text=text("desk_employee_says", who=who, text=body),
                )
            )
        except (SlackApiError, DeliveryBlocked) as failure:  # stored: readable in the export
            log.error("handoff: message %s not relayed: %s", event.message_id, _why(failure))

    # ---- Slack's side --------------------------------------------------------------------

    def is_desk_thread(self, event: JSONDict) -> bool:
        return event.get("channel") == self.channel and bool(event.get("thread_ts"))

    async def on_desk_message(self, event: JSONDict, bot_user_id: str | None) -> None:
        """A message in the escalation channel: a reply in a hand-off's thread is relayed."""
        if not is_from_a_person(event, bot_user_id) or not event.get("text"):
            return
        with self._tracked():
            await self._relay_desk_reply(event)

    async def _relay_desk_reply(self, event: JSONDict) -> None:
        handoff = await self._records.handoff_of_thread(self.channel, str(event["thread_ts"]))
        if handoff is None:
            return  # a thread about something else, or resolved already
        name = await self._name(str(event["user"]))
        async with self._lock(handoff.conversation_id):
            conversation = await self._store.get_conversation(handoff.conversation_id)
            lang = str(conversation.state.get("lang", "en"))
            relayed = text("desk_relayed", lang, name=name, text=str(event["text"]))
            await self._engine.notify(handoff.conversation_id, [Message(relayed)])
        log.info("handoff %s: a desk reply relayed", handoff.id)

    async def _on_resolve(self, ack: Any, body: JSONDict) -> None:
        await ack()
        with self._tracked():
            await self._resolve(body)

    async def _resolve(self, body: JSONDict) -> None:
        action = (body.get("actions") or [{}])[0]
        user = str((body.get("user") or {}).get("id", ""))
        value = str(action.get("value", ""))
        if not value.isdigit() or not user:
            return
        async with self._lock(int(value)):
            handoff = await self._records.resolve_handoff(int(value), user)
        if handoff is None:
            log.info("handoff %s: Resolved pressed again; nothing to do", value)
            return
        async with self._lock(handoff.conversation_id):
            conversation = await self._store.get_conversation(handoff.conversation_id)
            lang = str(conversation.state.get("lang", "en"))
            await self._engine.notify(
                handoff.conversation_id,
                [Message(text("desk_handoff_resolved", lang))],
                status=ConversationStatus.ACTIVE,
            )
        await self._mark_resolved(handoff, user, body)
        log.info("handoff %s resolved by %s", handoff.id, user)

    async def _mark_resolved(self, handoff: HandoffRecord, user: str, body: JSONDict) -> None:
        blocks = resolved_blocks((body.get("message") or {}).get("blocks", []), user)
        try:
            await self._client.chat_update(
                channel=handoff.desk_channel,
                ts=handoff.desk_ts,
                text=text("desk_resolved_by", user=user),
                blocks=blocks,
            )
        except SlackApiError as failure:  # the hand-off is closed; the post is a record only
            log.warning("handoff %s: post not updated: %s", handoff.id, error_of(failure))

    # ---- helpers -------------------------------------------------------------------------

    @contextlib.contextmanager
    def _tracked(self) -> Iterator[None]:
        """bolt runs listeners as tasks of their own: `close` waits for them too."""
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            yield
        finally:
            if task is not None:
                self._tasks.discard(task)

    def _lock(self, key: int) -> asyncio.Lock:
        # Relays and Resolved for one conversation in order: a relay must not write the
        # HANDED_OFF status back over a resolution.
        return self._locks.setdefault(key, asyncio.Lock())

    def _later(self, conversation_id: int, outputs: list[Output]) -> None:
        task = asyncio.create_task(self._notify_logged(conversation_id, outputs))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _notify_logged(self, conversation_id: int, outputs: list[Output]) -> None:
        try:
            await self._engine.notify(conversation_id, outputs)
        except Exception:
            log.exception("handoff: could not tell conversation %s", conversation_id)

    async def _who(self, user_id: int | None, key: ConversationKey) -> tuple[str, str]:
        """(how the desk sees the asker, the id stored as who asked)."""
        if user_id is None:
            return key.user_id, key.user_id
        user = await self._store.get_user(user_id)
        if user.platform is Platform.SLACK:
            return f"<@{user.platform_user_id}>", user.platform_user_id
        name = user.display_name or user.platform_user_id
        return f"{name} ({user.platform.value})", f"{user.platform.value}:{user.platform_user_id}"

    async def _name(self, user_id: str) -> str:
        if user_id not in self._names:
            try:
                info = await self._client.users_info(user=user_id)
                profile = (info.get("user") or {}).get("profile") or {}
                self._names[user_id] = (
                    profile.get("display_name") or profile.get("real_name") or user_id
                )
            except SlackApiError as failure:
                log.info("handoff: users.info failed: %s", error_of(failure))
                return text("desk_button_human").split()[-1]  # "person"
        return self._names[user_id]

    async def _post_blocks(
        self, handoff: HandoffRecord, key: ConversationKey, who: str
    ) -> list[JSONDict]:
        last = await self._records.last_answer(handoff.conversation_id)
        where = f"{key.platform.value} {key.chat_id}"
        link = await self._permalink(key)
        return escalation_blocks(handoff, who, link, where, last.sources if last else [])

    async def _permalink(self, key: ConversationKey) -> str:
        if key.platform is not Platform.SLACK:
            return ""
        ts = key.thread_id or self._last_ts.get(key, "")
        if not ts:
            return ""
        try:
            found = await self._client.chat_getPermalink(channel=key.chat_id, message_ts=ts)
        except SlackApiError as failure:
            log.info("handoff: no permalink: %s", error_of(failure))
            return ""
        return str(found.get("permalink") or "")


def _why(failure: BaseException) -> str:
    return error_of(failure) if isinstance(failure, SlackApiError) else type(failure).__name__
