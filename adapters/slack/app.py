"""The Slack connection: slack-bolt's AsyncApp, over Socket Mode or HTTP events.

Translation only: an event becomes an `Incoming` submitted to the engine (after bolt has
acknowledged it); replies come back through the `SlackRenderer` the engine was given.
More listeners (hiring-channel decisions, slash commands) register on `adapter.app`, or
through `add_listeners`.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, cast

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.errors import SlackApiError

from adapters.slack import events
from adapters.slack.client import build_web_client, error_of
from adapters.slack.dm_threads import ReplyThreads
from adapters.slack.helpdesk import HandoffRelay, NotifyingEngine
from adapters.slack.hiring import HiringChannel
from adapters.slack.renderer import SlackRenderer
from adapters.slack.reply_marks import Identity
from adapters.slack.streaming import StreamTiming
from bot.config import Settings
from bot.domain import Incoming, Platform
from bot.errors import ConfigError
from bot.interview.desk import HiringDesk
from bot.ports import EngineAPI
from bot.store.api import HelpDeskStore, Store
from bot.texts import text

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"  # Events API and interactivity both post here
SUGGESTED_PROMPTS = 3
JSONDict = dict[str, Any]


class _RecentIds:
    """Event ids submitted lately: Slack's retries skip the engine's DB round trip."""

    def __init__(self, size: int = 4096) -> None:
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._size = size

    def claim(self, event_id: str) -> bool:
        if event_id in self._ids:
            return False
        self._ids[event_id] = None
        while len(self._ids) > self._size:
            self._ids.popitem(last=False)
        return True

    def release(self, event_id: str) -> None:
        self._ids.pop(event_id, None)

    def __contains__(self, event_id: str) -> bool:
        return event_id in self._ids


class SlackAdapter:
    def __init__(
        self,
        settings: Settings,
        engine: EngineAPI,
        store: object | None = None,  # unused here; the hiring-channel part may want it
        *,
        timing: StreamTiming | None = None,
        events_path: str = EVENTS_PATH,
        hiring: HiringDesk | None = None,
        help_desk: HelpDeskStore | None = None,
    ) -> None:
        self.platform = Platform.SLACK
        self.settings = settings
        self._engine = engine
        self._store = store
        self._events_path = events_path
        self._app_token = (
            settings.slack_app_token.get_secret_value() if settings.slack_app_token else None
        )
        signing_secret = (
            settings.slack_signing_secret.get_secret_value()
            if settings.slack_signing_secret
            else None
        )
        if self._app_token is None and not signing_secret:
            raise ConfigError(
                "BOT_SLACK_SIGNING_SECRET: required for HTTP events (or set BOT_SLACK_APP_TOKEN "
                "for Socket Mode)"
            )
        self.client = build_web_client(settings)
        self.app = AsyncApp(
            client=self.client,
            signing_secret=signing_secret,
            request_verification_enabled=self._app_token is None,
            process_before_response=False,  # ack first; the listener runs after it
            logger=logging.getLogger("adapters.slack.bolt"),
        )
        self.bot_user_id: str | None = None
        self.bot_names: tuple[str, ...] = ()  # how people write the bot's name ("@Helpdesk")
        self._recent = _RecentIds()
        self._socket: AsyncSocketModeHandler | None = None
        interim = build_web_client(settings, wait_on_rate_limits=False)
        threads = ReplyThreads() if settings.slack_dm_replies == "thread" else None
        self.renderer = SlackRenderer(self.client, timing, interim, dm_threads=threads)
        # DM threads known to continue their DM conversation (this process opened them, or
        # the store has their parent as one of the user's messages): spares a read each.
        self._dm_threads = _RecentIds()
        engine.attach(Platform.SLACK, self.renderer)
        self._register_help_desk()
        # The hiring channel (reports, decisions, /interview), when given its desk.
        self.hiring: HiringChannel | None = None
        if hiring is not None:
            self.hiring = HiringChannel(settings, engine, hiring, self.client)
            self.add_listeners(self.hiring.register)
            engine.subscribe(self.hiring.on_event)
        # Hand-offs to people, when there is an escalation channel (and a store to keep them).
        self.relay: HandoffRelay | None = None
        escalation = settings.slack_escalation_channel
        if escalation and help_desk is not None and store is not None and hasattr(engine, "notify"):
            self.relay = HandoffRelay(
                escalation,
                cast(NotifyingEngine, engine),
                cast(Store, store),
                help_desk,
                self.client,
            )
            self.add_listeners(self.relay.register)
            engine.subscribe(self.relay.on_event)

    # ---- wiring -------------------------------------------------------------------------

    def add_listeners(self, register: Callable[[AsyncApp], None]) -> None:
        """Let another module (hiring channel, /interview) add its listeners to the app."""
        register(self.app)

    def _register_help_desk(self) -> None:
        self.app.event("message")(self._on_message)
        self.app.event("app_mention")(self._on_mention)
        self.app.event("assistant_thread_started")(self._on_assistant_thread_started)
        self.app.event("assistant_thread_context_changed")(self._ignore)
        self.app.action(re.compile(f"^{re.escape(events.ACTION_PREFIX)}"))(self._on_button)

    # ---- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        identity = await self.client.auth_test()  # fails fast on a bad token or URL
        self.bot_user_id = identity.get("user_id")
        self.renderer.identity = Identity(self.bot_user_id, identity.get("bot_id"))
        self.bot_names = await self._names_of_bot(identity.get("user"))
        if self._app_token is not None:
            self._socket = AsyncSocketModeHandler(self.app, self._app_token)
            await self._socket.connect_async()  # type: ignore[no-untyped-call]
            log.info("slack: Socket Mode as %s", self.bot_user_id)
        else:
            log.info("slack: HTTP events on %s as %s", self._events_path, self.bot_user_id)

    async def stop(self) -> None:
        if self.relay is not None:
            await self.relay.close()
        if self._socket is not None:
            await self._socket.close_async()  # type: ignore[no-untyped-call]
            self._socket = None
        session = getattr(self.client, "session", None)
        if session is not None and not session.closed:
            await session.close()

    def http_routes(self) -> list[web.RouteDef]:
        if self._app_token is not None:
            return []
        return [web.post(self._events_path, self._on_http)]

    async def _on_http(self, request: web.Request) -> web.Response:
        # bolt verifies the signature and timestamp (401 when forged or stale) and acks
        bolt_response = await self.app.async_dispatch(await to_bolt_request(request))
        return await to_aiohttp_response(bolt_response)

    async def _names_of_bot(self, username: object) -> tuple[str, ...]:
        # auth.test's `user` is the bot user's name, the one people type after "@"
        return (str(username),) if username else ()

    # ---- listeners (bolt has acknowledged the event already) -----------------------------

    def _bot_user(self, context: AsyncBoltContext) -> str | None:
        return context.bot_user_id or self.bot_user_id

    async def _on_message(self, body: JSONDict, event: JSONDict, context: AsyncBoltContext) -> None:
        if await self._hiring_share(event, context):
            return
        if self.relay is not None and self.relay.is_desk_thread(event):
            desk_id = f"desk:{event.get('client_msg_id') or body.get('event_id')}"
            if self._recent.claim(desk_id):  # a Slack retry is not relayed twice
                await self.relay.on_desk_message(event, self._bot_user(context))
            return
        bot_user = self._bot_user(context)
        thread_ts = str(event.get("thread_ts") or "")
        continues = (
            bool(thread_ts)
            and events.is_direct_message(event, bot_user)
            and await self._continues_dm(str(event["channel"]), thread_ts)
        )
        incoming = events.direct_message(
            event, body.get("event_id"), bot_user, self.bot_names, thread_continues_dm=continues
        )
        if incoming is not None:
            if self.relay is not None and not incoming.key.thread_id and event.get("ts"):
                self.relay.seen(incoming.key, str(event["ts"]))
            reply_in = thread_ts if continues else self._new_reply_thread(str(event.get("ts")))
            await self._submit(incoming, team_id=body.get("team_id"), reply_in=reply_in)

    async def _on_mention(self, body: JSONDict, event: JSONDict, context: AsyncBoltContext) -> None:
        if await self._hiring_share(event, context):
            return
        if self.relay is not None and event.get("channel") == self.relay.channel:
            return  # the help desk's own channel: its threads are relayed, not answered
        incoming = events.channel_mention(
            event, body.get("event_id"), self._bot_user(context), self.bot_names
        )
        if incoming is not None:
            await self._submit(incoming, team_id=body.get("team_id"))

    async def _hiring_share(self, event: JSONDict, context: AsyncBoltContext) -> bool:
        """A résumé shared for an invitation: the hiring desk's, handled once although it
        arrives as a `message` and as an `app_mention` (the same channel and ts)."""
        bot_user = self._bot_user(context)
        if self.hiring is None or not self.hiring.wants_share(event, bot_user):
            return False
        if self._recent.claim(f"invite-share:{event.get('channel')}:{event.get('ts')}"):
            await self.hiring.on_resume_share(event, bot_user)
        return True

    async def _on_button(self, ack: Any, body: JSONDict) -> None:
        await ack()
        tapped = events.tapped_thread(body)
        continues = tapped is not None and await self._continues_dm(*tapped)
        incoming = events.button_tap(body, thread_continues_dm=continues)
        if incoming is not None:
            reply_in = tapped[1] if tapped is not None and continues else ""
            team_id = (body.get("team") or {}).get("id")
            await self._submit(incoming, team_id=team_id, reply_in=reply_in)

    async def _on_assistant_thread_started(self, event: JSONDict) -> None:
        thread = event.get("assistant_thread") or {}
        channel, thread_ts = thread.get("channel_id"), thread.get("thread_ts")
        if not channel or not thread_ts:
            return
        prompts = [
            {"title": text(f"slack_prompt_{n}_title"), "message": text(f"slack_prompt_{n}_message")}
            for n in range(1, SUGGESTED_PROMPTS + 1)
        ]
        try:
            await self.client.assistant_threads_setSuggestedPrompts(
                channel_id=channel,
                thread_ts=thread_ts,
                prompts=prompts,
                title=text("slack_prompts_title"),
            )
        except SlackApiError as failure:
            log.warning("slack: setSuggestedPrompts failed: %s", error_of(failure))

    async def _ignore(self) -> None:
        return None

    # ---- top-level DMs answered in a thread (BOT_SLACK_DM_REPLIES=thread) ----------------

    async def _continues_dm(self, channel: str, thread_ts: str) -> bool:
        """Whether a DM thread is the bot's reply thread under a message of the user's DM
        conversation: its parent is a message this process answered in it, or one the store
        holds under its DM event id. An assistant-panel thread hangs under the app's own
        message, which is never stored: it stays a conversation of its own."""
        if self.renderer.dm_threads is None or not channel.startswith("D"):
            return False
        parent = events.dm_event_id(channel, thread_ts)
        if parent in self._dm_threads:
            return True
        if self._store is None:
            return False
        if await cast(Store, self._store).event_seen(Platform.SLACK, parent):
            self._dm_threads.claim(parent)
            return True
        return False

    def _new_reply_thread(self, ts: str) -> str:
        """Where a top-level DM message's answer goes: a thread under it when replies are
        streamed there (not once Slack has refused streaming: the main view, as inline)."""
        if self.renderer.dm_threads is None or not self.renderer.native_streaming or not ts:
            return ""
        return ts

    async def _submit(self, incoming: Incoming, *, team_id: str | None, reply_in: str = "") -> None:
        event_id = incoming.event_id
        if event_id is not None and not self._recent.claim(event_id):
            log.debug("slack: event %s already submitted; skipped", event_id)
            return
        if incoming.key.user_id == "*" and team_id:
            self.renderer.remember_recipient(incoming.key, incoming.user.platform_user_id, team_id)
        threads = self.renderer.dm_threads
        in_dm = incoming.key.chat_id.startswith("D") and not incoming.key.thread_id
        route = threads.open(incoming.key, reply_in) if threads is not None and in_dm else None
        if route is not None and reply_in:
            self._dm_threads.claim(events.dm_event_id(incoming.key.chat_id, reply_in))
        try:
            receipt = await self._engine.submit(incoming)
        except (asyncio.CancelledError, Exception):
            if event_id is not None:
                self._recent.release(event_id)  # not stored: a Slack retry may try again
            if route is not None and threads is not None:
                threads.drop(incoming.key, route)
            raise
        if route is not None and threads is not None:
            if receipt.accepted and receipt.message_id is not None:
                threads.bind(route, receipt.done)
            else:  # a duplicate, or answered already (a refused start)
                threads.drop(incoming.key, route)
