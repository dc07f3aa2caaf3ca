"""The Bot API methods of the fake, answering as Telegram does (status codes and wording)."""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from tests.fakes.telegram.files import get_file
from tests.fakes.telegram.markup import EntityParseError, parse, utf16_len
from tests.fakes.telegram.state import Call, Draft, FakeMessage

if TYPE_CHECKING:
    from tests.fakes.telegram.server import FakeTelegram

MAX_TEXT = 4096
FLOOD_LIMITED = {"sendmessage", "editmessagetext"}
TO_A_CHAT = FLOOD_LIMITED | {"sendmessagedraft", "sendchataction"}
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)


class ApiError(Exception):
    def __init__(self, status: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after


Handler = Callable[[dict[str, Any]], Awaitable[Any]]


class BotApi:
    def __init__(self, tg: FakeTelegram) -> None:
        self.tg = tg
        self.methods: dict[str, Handler] = {
            "getme": self.get_me,
            "getupdates": self.get_updates,
            "setwebhook": self.set_webhook,
            "deletewebhook": self.delete_webhook,
            "sendmessage": self.send_message,
            "editmessagetext": self.edit_message_text,
            "sendmessagedraft": self.send_message_draft,
            "sendchataction": self.send_chat_action,
            "answercallbackquery": self.answer_callback_query,
            "setmycommands": self.set_my_commands,
            "getfile": self.get_file,
        }

    async def handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        received_at = time.monotonic()
        params = await _params(request)
        try:
            if request.match_info["token"] != self.tg.token:
                raise ApiError(401, "Unauthorized")
            result = await self._call(method.lower(), params)
            status, body = 200, {"ok": True, "result": result}
        except ApiError as error:
            status = error.status
            body = {"ok": False, "error_code": status, "description": error.description}
            if error.retry_after is not None:
                body["parameters"] = {"retry_after": error.retry_after}
        description = "" if status == 200 else body["description"]
        self.tg.calls.append(Call(method, params, status, received_at, description))
        return web.json_response(body, status=status)

    async def _call(self, method: str, params: dict[str, Any]) -> Any:
        handler = self.methods.get(method)
        if handler is None:
            raise ApiError(404, "Not Found")
        fault = self.tg.take_fault(method)
        if fault is not None:
            retry_after = fault.retry_after if fault.status == 429 else None
            default = "Too Many Requests: retry after" if fault.status == 429 else "Injected"
            raise ApiError(fault.status, fault.description or default, retry_after)
        if method in TO_A_CHAT:
            chat_id = int(params.get("chat_id", 0))
            if chat_id not in self.tg.chats:
                raise ApiError(400, "Bad Request: chat not found")
            if chat_id in self.tg.blocked_chats:
                raise ApiError(403, "Forbidden: bot was blocked by the user")
            if method in FLOOD_LIMITED:
                retry_after = self.tg.limits.check(chat_id)
                if retry_after is not None:
                    raise ApiError(
                        429, f"Too Many Requests: retry after {retry_after}", retry_after
                    )
        return await handler(params)

    # ---- methods ------------------------------------------------------------------------

    async def get_me(self, params: dict[str, Any]) -> Any:
        return {
            **self.tg.bot_user(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    async def get_updates(self, params: dict[str, Any]) -> Any:
        if self.tg.webhook_url:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        allowed = params.get("allowed_updates")
        return await self.tg.next_updates(
            offset=int(params.get("offset", 0)),
            limit=int(params.get("limit", 100)),
            wait_s=float(params.get("timeout", 0)),
            allowed=json_param(allowed) if allowed is not None else None,
        )

    async def set_webhook(self, params: dict[str, Any]) -> Any:
        if params.get("allowed_updates") is not None:
            self.tg.allowed_updates = json_param(params["allowed_updates"])
        await self.tg.set_webhook(str(params.get("url", "")), str(params.get("secret_token", "")))
        return True

    async def delete_webhook(self, params: dict[str, Any]) -> Any:
        await self.tg.set_webhook("", "")
        if _flag(params.get("drop_pending_updates")):
            self.tg._updates.clear()
        return True

    def _visible(self, params: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
        text = str(params.get("text", ""))
        try:
            visible, entities = parse(text, params.get("parse_mode"))
        except EntityParseError as error:
            raise ApiError(400, f"Bad Request: can't parse entities: {error}") from None
        if not visible.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if utf16_len(visible) > MAX_TEXT:
            raise ApiError(400, "Bad Request: message is too long")
        return visible, entities

    async def send_message(self, params: dict[str, Any]) -> Any:
        chat_id = int(params["chat_id"])
        visible, entities = self._visible(params)
        markup = json_param(params.get("reply_markup"))
        message = self.tg.add_bot_message(
            FakeMessage(
                chat_id,
                0,
                self.tg.bot_id,
                True,
                visible,
                str(params["text"]),
                params.get("parse_mode"),
                entities,
                markup,
            )
        )
        return self.tg.message_json(message)

    async def edit_message_text(self, params: dict[str, Any]) -> Any:
        chat_id = int(params["chat_id"])
        try:
            message = self.tg.find_message(chat_id, int(params["message_id"]))
        except KeyError:
            raise ApiError(400, "Bad Request: message to edit not found") from None
        if not message.from_bot:
            raise ApiError(400, "Bad Request: message can't be edited")
        visible, entities = self._visible(params)
        markup = json_param(params.get("reply_markup"))
        if (visible, entities, markup) == (message.text, message.entities, message.reply_markup):
            raise ApiError(400, NOT_MODIFIED)
        message.text, message.entities, message.reply_markup = visible, entities, markup
        message.raw, message.parse_mode = str(params["text"]), params.get("parse_mode")
        message.edit_count += 1
        return self.tg.message_json(message)

    async def send_message_draft(self, params: dict[str, Any]) -> Any:
        chat_id = int(params["chat_id"])
        if self.tg.chats[chat_id]["type"] != "private":
            raise ApiError(400, "Bad Request: TEXTDRAFT_PEER_INVALID")
        draft_id = int(params.get("draft_id", 0))
        if draft_id == 0:
            raise ApiError(400, "Bad Request: draft_id must be non-zero")
        visible = ""
        if params.get("text"):
            visible, _ = self._visible(params)
        self.tg.drafts_sent.append(Draft(chat_id, draft_id, visible, time.monotonic()))
        return True

    async def send_chat_action(self, params: dict[str, Any]) -> Any:
        return True

    async def answer_callback_query(self, params: dict[str, Any]) -> Any:
        query_id = str(params.get("callback_query_id", ""))
        if not query_id.startswith("cq") or query_id in self.tg.callbacks_answered:
            raise ApiError(
                400,
                "Bad Request: query is too old and response timeout expired or query ID is invalid",
            )
        self.tg.callbacks_answered.add(query_id)
        return True

    async def get_file(self, params: dict[str, Any]) -> Any:
        return get_file(self.tg.file_store, params)

    async def set_my_commands(self, params: dict[str, Any]) -> Any:
        commands = json_param(params.get("commands", "[]"))
        self.tg.commands[str(params.get("language_code") or "")] = commands
        return True


def json_param(value: Any) -> Any:
    """PTB sends lists and objects as JSON text inside form fields."""
    return json.loads(value) if isinstance(value, str) else value


def _flag(value: Any) -> bool:
    return value in (True, "true", "True", "1", 1)


async def _params(request: web.Request) -> dict[str, Any]:
    """Query string, form (PTB sends JSON-encoded values as form fields) or a JSON body."""
    params: dict[str, Any] = dict(request.query)
    if request.can_read_body:
        if request.content_type == "application/json":
            params.update(json.loads(await request.read() or b"{}"))
        else:
            form = await request.post()
            params.update({key: value for key, value in form.items() if isinstance(value, str)})
    return params
