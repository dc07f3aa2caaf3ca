"""A fake Slack on 127.0.0.1: the Web API that the real slack-sdk client calls, plus a way
to deliver events to the bot (signed HTTP requests or a Socket Mode WebSocket).

    async with FakeSlack(signing_secret="s3cret") as slack:
        settings = Settings(slack_bot_token=slack.bot_token, slack_api_url=slack.api_url, ...)
        status = await slack.send_event(bot_url, slack.dm("hello"))
        await slack.wait_for(lambda: slack.messages("D_ALICE"), timeout=5)
"""

from __future__ import annotations

import asyncio
import json
import math
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import parse_qsl

import aiohttp
from aiohttp import web

from tests.fakes.serving import local_port, serve_local
from tests.fakes.slack import commands as cmd
from tests.fakes.slack import events as ev
from tests.fakes.slack import files as fl
from tests.fakes.slack.methods import METHODS, ApiError
from tests.fakes.slack.state import AssistantThread, Call, FakeMessage, Workspace

T = TypeVar("T")

DEFAULT_RATE_LIMITS: dict[str, tuple[int, float]] = {
    # (calls, per seconds): roomy versions of Slack's tiers, so only a test that means to
    # hit them does; tighten with `set_rate_limit`.
    "chat.postMessage": (60, 60.0),
    "chat.update": (50, 60.0),
    "chat.appendStream": (300, 60.0),
}


@dataclass
class Injected:
    error: str
    status: int
    retry_after: int
    times: int


class FakeSlack:
    def __init__(
        self,
        *,
        signing_secret: str = "fake-signing-secret",
        bot_token: str = "xoxb-fake-bot-token",
        app_token: str = "xapp-fake-app-token",
        streaming_supported: bool = True,
        stream_window_s: float = 300.0,
        strict_threads: bool = False,
        rate_limits: dict[str, tuple[int, float]] | None = None,
        markdown_text_supported: bool = True,
        scopes: frozenset[str] = frozenset(
            {
                "chat:write",
                "commands",
                "channels:history",
                "groups:history",
                "im:history",
                "app_mentions:read",
                "users:read",
                "files:read",
                "files:write",
            }
        ),
    ) -> None:
        self.signing_secret = signing_secret
        self.bot_token = bot_token
        self.app_token = app_token
        self.team_id, self.app_id = "T0FAKE", "A0FAKE"
        self.bot_user_id, self.bot_id = "U0BOT", "B0BOT"
        self.streaming_supported = streaming_supported
        self.stream_window_s = stream_window_s
        self.strict_threads = strict_threads
        # False: like a simulator that predates `markdown_text` (ignores it, so a message
        # with nothing else to show is refused with `missing_argument`).
        self.markdown_text_supported = markdown_text_supported
        self.rate_limits = dict(DEFAULT_RATE_LIMITS if rate_limits is None else rate_limits)
        self.workspace = Workspace()
        self.scopes = set(scopes)  # the bot token's OAuth scopes
        self.file_downloads: list[tuple[str, bool]] = []  # (file id, authorised)
        self.calls: list[Call] = []
        self.event_responses: list[tuple[str, int]] = []  # (event_id, HTTP status)
        # what the app posted to a slash command's response_url: (command id, message)
        self.command_responses: list[tuple[str, dict[str, Any]]] = []
        self._injected: dict[str, deque[Injected]] = defaultdict(deque)
        self._recent: dict[str, deque[float]] = defaultdict(deque)
        self._changed = asyncio.Condition()
        self._sockets: list[web.WebSocketResponse] = []
        self._socket_acks: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self.port = 0

    # ---- lifecycle ----------------------------------------------------------------------

    async def __aenter__(self) -> FakeSlack:
        app = web.Application()
        app.router.add_post("/api/{method}", self._api)
        app.router.add_get("/api/{method}", self._api)
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_get("/socket-mode", self._socket)
        app.router.add_post("/commands/{command_id}", self._command_response)
        app.router.add_get("/files-pri/{team_file}/{name}", partial(fl.download, self))
        app.router.add_get("/signin", fl.sign_in)
        self._runner = await serve_local(app)
        self.port = local_port(self._runner)
        self._session = aiohttp.ClientSession()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for socket in list(self._sockets):
            await socket.close()
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        """What BOT_SLACK_API_URL is set to (slack-sdk's base_url, with the slash)."""
        return f"{self.base_url}/api/"

    @property
    def socket_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/socket-mode?ticket={uuid.uuid4().hex}"

    # ---- test controls ------------------------------------------------------------------

    def inject(
        self,
        method: str,
        error: str = "ratelimited",
        status: int | None = None,
        retry_after: int = 1,
        times: int = 1,
    ) -> None:
        """The next `times` calls of `method` fail with `error` (429 + Retry-After for
        `ratelimited`, else HTTP 200 with ok: false)."""
        code = status if status is not None else (429 if error == "ratelimited" else 200)
        self._injected[method].append(Injected(error, code, retry_after, times))

    def inject_clear(self, method: str) -> None:
        """Forget the faults still waiting for `method`."""
        self._injected.pop(method, None)

    def set_rate_limit(self, method: str, calls: int, per_s: float) -> None:
        self.rate_limits[method] = (calls, per_s)

    def add_user(
        self, user_id: str, name: str = "", *, is_bot: bool = False, tz: str = "UTC"
    ) -> None:
        self.workspace.users[user_id] = {
            "id": user_id,
            "team_id": self.team_id,
            "name": name or user_id.lower(),
            "real_name": name or user_id,
            "is_bot": is_bot,
            "tz": tz,
            "profile": {"display_name": name, "real_name": name or user_id},
        }

    def set_members(self, channel: str, members: list[str]) -> None:
        self.workspace.members[channel] = list(members)

    def calls_to(self, method: str) -> list[Call]:
        return [call for call in self.calls if call.method == method]

    def messages(self, channel: str, thread_ts: str | None = None) -> list[FakeMessage]:
        """What a user sees: top-level messages of `channel`, or the replies in a thread
        (without its parent), after every update and stream append."""

        def shown_here(m: FakeMessage) -> bool:
            if m.channel != channel or m.ephemeral_for is not None:
                return False
            if thread_ts is None:
                return m.thread_ts is None or m.thread_ts == m.ts
            return m.thread_ts == thread_ts and m.ts != thread_ts

        return [m for m in self.workspace.messages if shown_here(m)]

    def bot_messages(self, channel: str, thread_ts: str | None = None) -> list[FakeMessage]:
        return [m for m in self.messages(channel, thread_ts) if m.bot_id == self.bot_id]

    def bot_messages_anywhere(self, channel: str) -> list[FakeMessage]:
        """The bot's messages in `channel`, at top level and in every thread, oldest first
        (a DM answered inline or in the thread under each message)."""
        return [
            m
            for m in self.workspace.messages
            if m.channel == channel and m.bot_id == self.bot_id and m.ephemeral_for is None
        ]

    def assistant_thread(self, channel: str, thread_ts: str) -> AssistantThread:
        return self.workspace.thread(channel, thread_ts)

    async def wait_for(self, predicate: Callable[[], T], timeout: float = 5.0) -> T:  # noqa: ASYNC109 - a test helper's deadline
        """Wait until `predicate()` is truthy (checked after every API call); return it."""
        async with asyncio.timeout(timeout):
            async with self._changed:
                while not (result := predicate()):
                    await self._changed.wait()
                return result

    # ---- events: building them ----------------------------------------------------------

    def dm(
        self,
        text: str,
        *,
        user: str = "U_ALICE",
        channel: str = "D_ALICE",
        thread_ts: str | None = None,
        event_id: str | None = None,
    ) -> dict[str, Any]:
        """A user's direct message (also an assistant-thread message when thread_ts)."""
        event = self._user_says(text, user, channel, "im", thread_ts)
        return self.envelope(event, event_id=event_id)

    def mention(
        self,
        text: str,
        *,
        user: str = "U_ALICE",
        channel: str = "C_GENERAL",
        thread_ts: str | None = None,
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """A channel message mentioning the bot, as Slack delivers it: a `message` event
        and an `app_mention` event (different event ids, the same client_msg_id)."""
        message = self._user_says(
            f"<@{self.bot_user_id}> {text}", user, channel, "channel", thread_ts
        )
        mention = {k: v for k, v in message.items() if k != "channel_type"} | {
            "type": "app_mention"
        }
        return self.envelope(message), self.envelope(mention)

    def add_file(
        self, content: bytes, name: str, mimetype: str, *, user: str = "U_ALICE"
    ) -> dict[str, Any]:
        """A file a person uploaded; the file object Slack puts in the message event."""
        file_id = f"F{len(self.workspace.files) + 1:08d}"
        self.workspace.files[file_id] = {
            "name": name,
            "mimetype": mimetype,
            "filetype": name.rsplit(".", 1)[-1].lower() if "." in name else "binary",
            "user": user,
            "size": len(content),
            "created": time.time(),
            "content": content,
        }
        return fl.file_object(self, file_id, self.workspace.files[file_id])

    def file_share(
        self,
        text: str,
        files: list[dict[str, Any]],
        *,
        user: str = "U_ALICE",
        channel: str = "C_HIRING",
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Files shared with a message mentioning the bot: a `message` event (subtype
        file_share) and an `app_mention` event, both carrying the files."""
        message = self._user_says(
            f"<@{self.bot_user_id}> {text}", user, channel, "channel", None
        ) | {"subtype": "file_share", "files": files, "upload": True}
        mention = {k: v for k, v in message.items() if k not in ("channel_type", "subtype")} | {
            "type": "app_mention"
        }
        return self.envelope(message), self.envelope(mention)

    def channel_message(
        self,
        text: str,
        *,
        user: str = "U_ALICE",
        channel: str = "C_GENERAL",
        thread_ts: str | None = None,
    ) -> dict[str, Any]:
        return self.envelope(self._user_says(text, user, channel, "channel", thread_ts))

    def bot_message(
        self, text: str, *, channel: str = "D_ALICE", bot_id: str = "B0OTHER"
    ) -> dict[str, Any]:
        """Another app's message (subtype bot_message); with bot_id=slack.bot_id, our own."""
        ts = self.workspace.next_ts()
        event = {
            "type": "message",
            "subtype": "bot_message",
            "bot_id": bot_id,
            "text": text,
            "ts": ts,
            "event_ts": ts,
            "channel": channel,
            "channel_type": "im" if channel.startswith("D") else "channel",
        }
        return self.envelope(event)

    def own_message(self, text: str, *, channel: str = "D_ALICE") -> dict[str, Any]:
        """The bot's own message echoed back as an event (user = the bot user, bot_id set)."""
        event = ev.user_message(
            text=text,
            user=self.bot_user_id,
            channel=channel,
            channel_type="im",
            ts=self.workspace.next_ts(),
            team_id=self.team_id,
        )
        event["bot_id"] = self.bot_id
        del event["client_msg_id"]
        return self.envelope(event)

    def assistant_thread_started(
        self, *, user: str = "U_ALICE", channel: str = "D_ALICE"
    ) -> dict[str, Any]:
        """The user opened the assistant side panel: a new thread whose parent is the app's."""
        parent = self.workspace.add(
            FakeMessage(
                channel=channel,
                ts=self.workspace.next_ts(),
                text="",
                user=self.bot_user_id,
                bot_id=self.bot_id,
            )
        )
        event = {
            "type": "assistant_thread_started",
            "assistant_thread": {
                "user_id": user,
                "context": {
                    "channel_id": "C_GENERAL",
                    "team_id": self.team_id,
                    "enterprise_id": None,
                },
                "channel_id": channel,
                "thread_ts": parent.ts,
            },
            "event_ts": self.workspace.next_ts(),
        }
        self.workspace.thread(channel, parent.ts)
        return self.envelope(event)

    def block_action(
        self, message: FakeMessage, action_id: str, value: str = "", *, user: str = "U_ALICE"
    ) -> dict[str, Any]:
        return ev.block_action(
            user=user,
            channel=message.channel,
            message_ts=message.ts,
            action_id=action_id,
            value=value,
            team_id=self.team_id,
            app_id=self.app_id,
            thread_ts=message.thread_ts,
        )

    def envelope(self, event: dict[str, Any], *, event_id: str | None = None) -> dict[str, Any]:
        return ev.envelope(
            event,
            team_id=self.team_id,
            app_id=self.app_id,
            bot_user_id=self.bot_user_id,
            event_id=event_id,
        )

    def _user_says(
        self, text: str, user: str, channel: str, channel_type: str, thread_ts: str | None
    ) -> dict[str, Any]:
        ts = self.workspace.next_ts()
        self.workspace.add(
            FakeMessage(channel=channel, ts=ts, text=text, user=user, thread_ts=thread_ts)
        )
        return ev.user_message(
            text=text,
            user=user,
            channel=channel,
            channel_type=channel_type,
            ts=ts,
            team_id=self.team_id,
            thread_ts=thread_ts,
        )

    # ---- events: delivering them --------------------------------------------------------

    async def send_event(
        self,
        url: str,
        payload: dict[str, Any],
        *,
        retry_num: int | None = None,
        retry_reason: str = "http_timeout",
        secret: str | None = None,
        timestamp: int | None = None,
    ) -> int:
        """POST an Events API payload to the bot, signed like Slack; the HTTP status."""
        body = json.dumps(payload)
        headers = ev.signed_headers(secret or self.signing_secret, body, timestamp)
        headers["Content-Type"] = "application/json"
        if retry_num is not None:
            headers["X-Slack-Retry-Num"] = str(retry_num)
            headers["X-Slack-Retry-Reason"] = retry_reason
        status = await self._post(url, body, headers)
        self.event_responses.append((str(payload.get("event_id", "")), status))
        return status

    async def send_interaction(
        self, url: str, payload: dict[str, Any], *, secret: str | None = None
    ) -> int:
        """POST an interactivity payload (a button tap) the way Slack does: form-encoded."""
        from urllib.parse import urlencode

        body = urlencode({"payload": json.dumps(payload)})
        headers = ev.signed_headers(secret or self.signing_secret, body)
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        return await self._post(url, body, headers)

    async def send_command(
        self,
        url: str,
        command: str,
        text: str = "",
        *,
        user_id: str = "U_ALICE",
        channel_id: str = "C_GENERAL",
        secret: str | None = None,
    ) -> tuple[int, str]:
        """POST a slash command the way Slack does (form-encoded, signed); the HTTP status
        and the command's id, whose response_url answers `responses_to` lists."""
        from urllib.parse import urlencode

        command_id = uuid.uuid4().hex
        fields = cmd.slash_command(
            command=command,
            text=text,
            user_id=user_id,
            channel_id=channel_id,
            team_id=self.team_id,
            app_id=self.app_id,
            response_url=f"{self.base_url}/commands/{command_id}",
        )
        body = urlencode(fields)
        headers = ev.signed_headers(secret or self.signing_secret, body)
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        return await self._post(url, body, headers), command_id

    def responses_to(self, command_id: str) -> list[dict[str, Any]]:
        return [message for cid, message in self.command_responses if cid == command_id]

    async def _command_response(self, request: web.Request) -> web.Response:
        message = cmd.response_message(await request.json())
        self.command_responses.append((request.match_info["command_id"], message))
        async with self._changed:
            self._changed.notify_all()
        return web.Response(text="ok")

    async def _post(self, url: str, body: str, headers: dict[str, str]) -> int:
        assert self._session is not None, "use `async with FakeSlack()`"
        async with self._session.post(url, data=body.encode(), headers=headers) as response:
            await response.read()
            return response.status

    async def wait_for_socket(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        await self.wait_for(lambda: bool(self._sockets), timeout)

    async def send_socket_event(
        self,
        payload: dict[str, Any],
        *,
        kind: str = "events_api",
        retry_attempt: int = 0,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> dict[str, Any]:
        """Deliver a payload over Socket Mode; returns the app's ack (envelope_id...)."""
        await self.wait_for_socket(timeout)
        envelope_id = uuid.uuid4().hex
        acked: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._socket_acks[envelope_id] = acked
        await self._sockets[-1].send_json(
            {
                "envelope_id": envelope_id,
                "payload": payload,
                "type": kind,
                "accepts_response_payload": kind != "events_api",
                "retry_attempt": retry_attempt,
                "retry_reason": "timeout" if retry_attempt else "",
            }
        )
        async with asyncio.timeout(timeout):
            return await acked

    # ---- the Web API --------------------------------------------------------------------

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await _params(request)
        call = Call(method, params, time.monotonic())
        self.calls.append(call)
        response = self._answer_before_method(method, request, call)
        if response is None:
            handler = METHODS.get(method)
            try:
                if handler is None:
                    raise ApiError("unknown_method")
                body = {"ok": True} | await handler(self, params)
            except ApiError as failure:
                call.error = failure.error
                body = {"ok": False, "error": failure.error}
            response = web.json_response(body)
        async with self._changed:
            self._changed.notify_all()
        return response

    def _answer_before_method(
        self, method: str, request: web.Request, call: Call
    ) -> web.Response | None:
        expected = self.app_token if method == "apps.connections.open" else self.bot_token
        if request.headers.get("Authorization", "") != f"Bearer {expected}":
            call.error = "invalid_auth"
            return web.json_response({"ok": False, "error": "invalid_auth"})
        queue = self._injected.get(method)
        if queue:
            injected = queue[0]
            injected.times -= 1
            if injected.times <= 0:
                queue.popleft()
            call.status, call.error = injected.status, injected.error
            headers = {"Retry-After": str(injected.retry_after)} if injected.status == 429 else {}
            return web.json_response(
                {"ok": False, "error": injected.error}, status=injected.status, headers=headers
            )
        wait = self._rate_limited_for(method)
        if wait is not None:
            call.status, call.error = 429, "ratelimited"
            headers = {"Retry-After": str(max(1, math.ceil(wait)))}
            return web.json_response(
                {"ok": False, "error": "ratelimited"}, status=429, headers=headers
            )
        return None

    def _rate_limited_for(self, method: str) -> float | None:
        if method not in self.rate_limits:
            return None
        calls, per_s = self.rate_limits[method]
        now, recent = time.monotonic(), self._recent[method]
        while recent and now - recent[0] >= per_s:
            recent.popleft()
        if len(recent) >= calls:
            return per_s - (now - recent[0])
        recent.append(now)
        return None

    async def _upload(self, request: web.Request) -> web.Response:
        upload = self.workspace.uploads.get(request.match_info["file_id"])
        if upload is None:
            return web.Response(status=404)
        if request.content_type.startswith("multipart/"):
            reader = await request.multipart()
            part = await reader.next()
            upload["content"] = (
                await part.read() if isinstance(part, aiohttp.BodyPartReader) else b""
            )
        else:
            upload["content"] = await request.read()
        return web.Response(text=f"OK - {len(upload['content'])}")

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        await socket.send_json(
            {
                "type": "hello",
                "num_connections": 1,
                "debug_info": {"host": "fake"},
                "connection_info": {"app_id": self.app_id},
            }
        )
        self._sockets.append(socket)
        async with self._changed:
            self._changed.notify_all()
        try:
            async for frame in socket:
                if frame.type != aiohttp.WSMsgType.TEXT:
                    continue
                ack = json.loads(frame.data)
                future = self._socket_acks.pop(ack.get("envelope_id", ""), None)
                if future is not None and not future.done():
                    future.set_result(ack)
        finally:
            self._sockets.remove(socket)
        return socket


async def _params(request: web.Request) -> dict[str, Any]:
    """Query string, form fields and JSON body merged, as Slack accepts any of them."""
    params: dict[str, Any] = dict(request.query)
    if request.body_exists:
        raw = await request.text()
        if request.content_type == "application/json":
            params.update(json.loads(raw) if raw else {})
        else:
            params.update(dict(parse_qsl(raw, keep_blank_values=True)))
    return params
