"""A fake Telegram Bot API server on 127.0.0.1 that the real python-telegram-bot talks to.

    async with FakeTelegram() as tg:
        settings = Settings(telegram_token=tg.token, telegram_base_url=tg.base_url)
        await tg.send_text(42, 42, "hello")            # a user writes (an update is queued)
        await tg.wait_for(lambda: tg.bot_texts(42))    # the bot answered
        tg.transcript(42), tg.calls, tg.inject("sendMessage", status=429, retry_after=1)

The Bot API side is in `methods.py`; this class holds the state and the side API for tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import Callable
from typing import Any

import aiohttp
from aiohttp import web

from tests.fakes.serving import local_port, serve_local
from tests.fakes.telegram.files import FileStore, download_route
from tests.fakes.telegram.markup import utf16_len
from tests.fakes.telegram.state import Call, Draft, FakeMessage, Fault, FloodLimits

log = logging.getLogger(__name__)

UPDATE_TYPES = ("message", "edited_message", "callback_query")


class FakeTelegram:
    def __init__(
        self,
        *,
        token: str = "123456:FAKE-telegram-token",
        bot_username: str = "fake_interview_bot",
        per_chat_per_s: float = 1.0,
        burst: int = 3,
        group_per_minute: float = 20.0,
        rate_limits: bool = True,
    ) -> None:
        self.token = token
        self.bot_id = int(token.split(":", 1)[0])
        self.bot_username = bot_username
        self.limits = FloodLimits(per_chat_per_s, burst, group_per_minute, rate_limits)
        self.calls: list[Call] = []
        self.chats: dict[int, dict[str, Any]] = {}
        self.users: dict[int, dict[str, Any]] = {}
        self.messages: dict[int, list[FakeMessage]] = {}
        self.drafts_sent: list[Draft] = []
        self.commands: dict[str, list[dict[str, str]]] = {}  # language_code ("" default)
        self.callbacks_answered: set[str] = set()
        self.blocked_chats: set[int] = set()
        self.webhook_url = ""
        self.webhook_secret = ""
        self.webhook_deliveries: list[tuple[int, int]] = []  # (update_id, HTTP status)
        self.allowed_updates: list[str] = list(UPDATE_TYPES)
        self._updates: list[dict[str, Any]] = []  # produced, not yet confirmed
        self._all_updates: dict[int, dict[str, Any]] = {}
        self._update_ids = itertools.count(1000)
        self._callback_ids = itertools.count(1)
        self._faults: list[Fault] = []
        self._new_update = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self._webhook_task: asyncio.Task[None] | None = None
        self.base_url = ""
        self._closing = False
        self.file_store = FileStore()  # uploads served through getFile (files.py)

    # ---- lifecycle ----------------------------------------------------------------------

    async def __aenter__(self) -> FakeTelegram:
        from tests.fakes.telegram.methods import BotApi

        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", BotApi(self).handle)
        app.router.add_routes([download_route(self)])
        self._runner = await serve_local(app)
        self.base_url = f"http://127.0.0.1:{local_port(self._runner)}"
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._stop_webhook_delivery()
        async with self._new_update:  # end pending long polls now, not at their timeout
            self._closing = True
            self._new_update.notify_all()
        if self._runner is not None:
            await self._runner.cleanup()

    # ---- side API: what users do ------------------------------------------------------

    def _chat(self, chat_id: int, chat_type: str | None) -> dict[str, Any]:
        kind = chat_type or ("private" if chat_id > 0 else "group")
        chat = self.chats.setdefault(chat_id, {"id": chat_id, "type": kind})
        if kind == "private":
            chat.setdefault("first_name", f"User {chat_id}")
        else:
            chat.setdefault("title", f"Group {chat_id}")
        return chat

    def _user(self, user_id: int, first_name: str | None, language_code: str | None) -> Any:
        user = self.users.setdefault(user_id, {"id": user_id, "is_bot": False})
        user["first_name"] = first_name or user.get("first_name") or f"User{user_id}"
        if language_code is not None:
            user["language_code"] = language_code
        return user

    def _user_message(
        self,
        chat_id: int,
        user_id: int,
        chat_type: str | None,
        text: str,
        first_name: str | None = None,
        language_code: str | None = None,
    ) -> dict[str, Any]:
        """Record what the user sent in the chat; the update's `message` object for it."""
        chat = self._chat(chat_id, chat_type)
        user = self._user(user_id, first_name, language_code)
        stored = FakeMessage(chat_id, self._next_message_id(chat_id), user_id, False, text)
        self.messages.setdefault(chat_id, []).append(stored)
        return {"message_id": stored.message_id, "date": stored.date, "chat": chat, "from": user}

    async def send_text(
        self,
        chat_id: int,
        user_id: int,
        text: str,
        chat_type: str | None = None,
        *,
        reply_to_message_id: int | None = None,
        first_name: str | None = None,
        language_code: str | None = "en",
    ) -> int:
        """A user writes `text`; returns the update_id."""
        message = self._user_message(chat_id, user_id, chat_type, text, first_name, language_code)
        message["text"] = text
        entities = _entities_for(text)
        if entities:
            message["entities"] = entities
        if reply_to_message_id is not None:
            replied = self.find_message(chat_id, reply_to_message_id)
            message["reply_to_message"] = self._message_json(replied)
        return await self.push_update({"message": message})

    async def send_media(
        self, chat_id: int, user_id: int, kind: str = "photo", chat_type: str | None = None
    ) -> int:
        """A photo, voice note, sticker, document or video instead of text."""
        payloads: dict[str, Any] = {
            "photo": [{"file_id": "p1", "file_unique_id": "u1", "width": 90, "height": 90}],
            "voice": {"file_id": "v1", "file_unique_id": "u2", "duration": 3},
            "sticker": {
                "file_id": "s1",
                "file_unique_id": "u3",
                "type": "regular",
                "width": 512,
                "height": 512,
                "is_animated": False,
                "is_video": False,
            },
            "document": {"file_id": "d1", "file_unique_id": "u4", "file_name": "cv.pdf"},
            "video": {
                "file_id": "w1",
                "file_unique_id": "u5",
                "width": 9,
                "height": 9,
                "duration": 1,
            },
        }
        message = self._user_message(chat_id, user_id, chat_type, f"[{kind}]")
        message[kind] = payloads[kind]
        return await self.push_update({"message": message})

    async def edit_text(self, chat_id: int, user_id: int, message_id: int, text: str) -> int:
        """The user edits an earlier message of theirs."""
        stored = self.find_message(chat_id, message_id)
        stored.text, stored.edit_count = text, stored.edit_count + 1
        message = self._message_json(stored)
        message["edit_date"] = int(time.time())
        return await self.push_update({"edited_message": message})

    async def tap(self, chat_id: int, user_id: int, message_id: int, callback_data: str) -> str:
        """The user taps an inline button; returns the callback query id."""
        query_id = f"cq{next(self._callback_ids)}"
        query = {
            "id": query_id,
            "from": self._user(user_id, None, None),
            "chat_instance": f"ci{chat_id}",
            "data": callback_data,
            "message": self._message_json(self.find_message(chat_id, message_id)),
        }
        await self.push_update({"callback_query": query})
        return query_id

    async def push_update(self, update: dict[str, Any]) -> int:
        """Queue a raw update (an update_id is given when missing); returns its id."""
        update.setdefault("update_id", next(self._update_ids))
        self._all_updates[update["update_id"]] = update
        async with self._new_update:
            self._updates.append(update)
            self._new_update.notify_all()
        return int(update["update_id"])

    async def redeliver(self, update_id: int) -> None:
        """Telegram sends an update again (the bot's confirmation was lost)."""
        async with self._new_update:
            self._updates.append(self._all_updates[update_id])
            self._new_update.notify_all()

    # ---- side API: faults ----------------------------------------------------------

    def inject(
        self,
        method: str,
        status: int = 429,
        retry_after: int | None = 1,
        times: int = 1,
        description: str | None = None,
    ) -> None:
        """The next `times` calls of `method` fail with `status` (429s carry retry_after)."""
        self._faults.append(Fault(method.lower(), status, retry_after, times, description))

    def block(self, chat_id: int) -> None:
        """The user blocks the bot: sends to this chat get 403 from now on."""
        self.blocked_chats.add(chat_id)

    def take_fault(self, method: str) -> Fault | None:
        for fault in self._faults:
            if fault.method == method and fault.times > 0:
                fault.times -= 1
                return fault
        return None

    # ---- side API: what tests read ---------------------------------------------------

    def transcript(self, chat_id: int) -> list[FakeMessage]:
        """The chat as its members see it: every message in order, with its final text."""
        return list(self.messages.get(chat_id, []))

    def bot_texts(self, chat_id: int) -> list[str]:
        return [message.text for message in self.transcript(chat_id) if message.from_bot]

    def drafts(self, chat_id: int) -> list[Draft]:
        return [draft for draft in self.drafts_sent if draft.chat_id == chat_id]

    def calls_to(self, method: str, chat_id: int | None = None) -> list[Call]:
        return [
            call
            for call in self.calls
            if call.method.lower() == method.lower()
            and (chat_id is None or call.chat_id == chat_id)
        ]

    def pending_updates(self) -> list[int]:
        return [update["update_id"] for update in self._updates]

    async def wait_for(
        self,
        predicate: Callable[[], object],
        timeout: float = 10.0,  # noqa: ASYNC109
    ) -> None:
        """Until `predicate()` is true; AssertionError naming the last calls otherwise."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                last = [f"{call.method} {call.status}" for call in self.calls[-8:]]
                raise AssertionError(f"condition not met in {timeout} s; last calls: {last}")
            await asyncio.sleep(0.01)

    # ---- used by the Bot API handlers ---------------------------------------------------

    def _next_message_id(self, chat_id: int) -> int:
        return len(self.messages.get(chat_id, [])) + 1

    def find_message(self, chat_id: int, message_id: int) -> FakeMessage:
        for message in self.messages.get(chat_id, []):
            if message.message_id == message_id:
                return message
        raise KeyError(message_id)

    def add_bot_message(self, message: FakeMessage) -> FakeMessage:
        message.message_id = self._next_message_id(message.chat_id)
        self.messages.setdefault(message.chat_id, []).append(message)
        return message

    def bot_user(self) -> dict[str, Any]:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "Fake Interview Bot",
            "username": self.bot_username,
        }

    def _message_json(self, message: FakeMessage) -> dict[str, Any]:
        sender = self.bot_user() if message.from_bot else self.users[message.sender_id]
        data: dict[str, Any] = {
            "message_id": message.message_id,
            "date": message.date,
            "chat": self.chats[message.chat_id],
            "from": sender,
            "text": message.text,
        }
        if message.entities:
            data["entities"] = message.entities
        if message.reply_markup:
            data["reply_markup"] = message.reply_markup
        return data

    message_json = _message_json

    async def next_updates(
        self, offset: int, limit: int, wait_s: float, allowed: list[str] | None
    ) -> list[dict[str, Any]]:
        """getUpdates: confirm everything below `offset`, then wait up to `wait_s`."""
        if allowed is not None:
            self.allowed_updates = allowed or list(UPDATE_TYPES)
        async with self._new_update:
            if offset:
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
            self._updates = [u for u in self._updates if self._allowed(u)]
            if not self._updates and wait_s > 0 and not self._closing:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._new_update.wait(), wait_s)
                self._updates = [u for u in self._updates if self._allowed(u)]
            return self._updates[:limit]

    def _allowed(self, update: dict[str, Any]) -> bool:
        return any(kind in update for kind in self.allowed_updates)

    # ---- webhook delivery ---------------------------------------------------------------

    async def set_webhook(self, url: str, secret: str) -> None:
        await self._stop_webhook_delivery()
        self.webhook_url, self.webhook_secret = url, secret
        if url:
            self._webhook_task = asyncio.create_task(self._deliver_webhooks())

    async def _stop_webhook_delivery(self) -> None:
        task, self._webhook_task = self._webhook_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _deliver_webhooks(self) -> None:
        """Push updates one at a time, in order; a failed delivery is retried, like Telegram."""
        headers = {"X-Telegram-Bot-Api-Secret-Token": self.webhook_secret}
        async with aiohttp.ClientSession() as session:
            while True:
                async with self._new_update:
                    await self._new_update.wait_for(lambda: bool(self._updates))
                    update = self._updates[0]
                try:
                    async with session.post(self.webhook_url, json=update, headers=headers) as resp:
                        status = resp.status
                except aiohttp.ClientError:
                    status = 0
                self.webhook_deliveries.append((update["update_id"], status))
                if 200 <= status < 300:
                    with contextlib.suppress(ValueError):
                        self._updates.remove(update)
                else:
                    await asyncio.sleep(0.2)


def _entities_for(text: str) -> list[dict[str, Any]]:
    """bot_command and @mention entities, as Telegram's clients add them."""
    entities: list[dict[str, Any]] = []
    if text.startswith("/"):
        command = text.split()[0]
        entities.append({"type": "bot_command", "offset": 0, "length": len(command)})
    position = 0  # in UTF-16 code units, as Telegram counts
    for word in text.split(" "):
        if word.startswith("@") and len(word) > 1 and not entities_overlap(entities, position):
            entities.append({"type": "mention", "offset": position, "length": utf16_len(word)})
        position += utf16_len(word) + 1
    return entities


def entities_overlap(entities: list[dict[str, Any]], offset: int) -> bool:
    return any(e["offset"] <= offset < e["offset"] + e["length"] for e in entities)
