"""The Telegram `Renderer`: one turn's `Output` stream, shown in one chat.

Turns into the same chat are rendered one after another (a per-chat lock), so replies keep
their order and share the chat's edit budget.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict, deque
from collections.abc import AsyncIterator

from telegram import Bot

from adapters.stream_driver import drive
from adapters.telegram.callbacks import CallbackCodec
from adapters.telegram.delivery import RetryPolicy
from adapters.telegram.sender import ChatSender, EditThrottle, RenderTiming, keyboard
from adapters.telegram.streaming import DraftView, EditView, StreamView
from bot.domain import (
    Buttons,
    ConversationKey,
    Handoff,
    Message,
    Output,
    Report,
    Sources,
    TextDelta,
    TextDone,
    Thinking,
)
from bot.errors import DeliveryBlocked
from bot.ports import Delivery, Shown
from bot.texts import text

log = logging.getLogger(__name__)


def is_private_chat(chat_id: int) -> bool:
    # Telegram ids: users (and so private chats) are positive, groups and channels negative.
    return chat_id > 0


class TelegramRenderer:
    def __init__(
        self,
        bot: Bot,
        codec: CallbackCodec,
        timing: RenderTiming | None = None,
        policy: RetryPolicy | None = None,
    ) -> None:
        self.bot = bot
        self.codec = codec
        self.timing = timing or RenderTiming()
        self.policy = policy or RetryPolicy()
        self._throttle = EditThrottle(self.timing.edit_interval_s)
        self._chat_locks: dict[int, asyncio.Lock] = {}
        # Previewed replies waiting for their delivery, per conversation, oldest first.
        self._kept: defaultdict[ConversationKey, deque[StreamView]] = defaultdict(
            lambda: deque(maxlen=8)
        )

    async def __call__(self, key: ConversationKey, outputs: AsyncIterator[Output]) -> None:
        chat_id = int(key.chat_id)
        lock = self._chat_locks.setdefault(chat_id, asyncio.Lock())
        async with lock:
            sender = ChatSender(self.bot, chat_id, self._throttle, self.policy)
            await drive(outputs, _Turn(self, sender))

    # ---- with the outbox (bot.ports.Deliverer) -------------------------------------------

    async def preview(self, key: ConversationKey, outputs: AsyncIterator[Output]) -> None:
        """Typing and drafts while the turn runs; each finished reply's view is kept for
        `deliver` (a draft vanishes by itself, a group's plain-text message is edited)."""
        chat_id = int(key.chat_id)
        async with self._chat_locks.setdefault(chat_id, asyncio.Lock()):
            sender = ChatSender(self.bot, chat_id, self._throttle, self.policy)
            await drive(outputs, _Turn(self, sender, keep=self._kept[key]))

    async def deliver(
        self, key: ConversationKey, output: Output, delivery: Delivery | None = None
    ) -> Shown:
        """`delivery` is not used: the Bot API cannot read back what the bot sent, so a
        retried delivery is sent again (a possible duplicate, never a loss)."""
        chat_id = int(key.chat_id)
        async with self._chat_locks.setdefault(chat_id, asyncio.Lock()):
            sender = ChatSender(self.bot, chat_id, self._throttle, self.policy)
            kept = self._kept.get(key)
            match output:
                case TextDone(text=final_text) if kept:
                    await kept[0].finish(final_text)
                    kept.popleft()  # only once Telegram took it: a retry finishes it again
                case TextDone(text=final_text) if final_text.strip():
                    await sender.send_formatted(final_text)
                case Message(text=body):
                    await sender.send_formatted(body)
                case Buttons(text=prompt, buttons=buttons):
                    await sender.send_formatted(prompt, keyboard(buttons, self.codec))
                case Sources() if output.items:
                    await sender.send_formatted(sources_message(output))
            if kept is not None and not kept:
                del self._kept[key]
        return Shown.NOW


class _Turn:
    """The Telegram `TurnView` for `adapters.stream_driver.drive`."""

    def __init__(
        self,
        renderer: TelegramRenderer,
        sender: ChatSender,
        keep: deque[StreamView] | None = None,
    ) -> None:
        self.renderer = renderer
        self.sender = sender
        # Preview mode (with the outbox): replies are not finished here but kept for
        # `deliver`, and complete messages are left to it.
        self.keep = keep
        self.view: StreamView | None = None
        self._typing: asyncio.Task[None] | None = None

    def live(self) -> StreamView | None:
        return self.view

    async def finish(self) -> None:
        if self.keep is not None:
            self.view = None  # no TextDone: nothing was stored, so nothing is delivered
            return
        await self._close_stream("")  # a stream that ended without TextDone

    async def close(self) -> None:
        await self._stop_typing()

    async def show(self, output: Output) -> None:
        await self._show(output)

    async def _show(self, output: Output) -> None:
        if self.keep is not None and isinstance(output, TextDone | Message | Buttons | Sources):
            await self._stop_typing()
            view, self.view = self.view, None
            if isinstance(output, TextDone) and view is not None:
                self.keep.append(view)
            return
        match output:
            case Thinking():
                if self.view is None and self._typing is None:
                    self._typing = asyncio.create_task(self._keep_typing())
            case TextDelta(text=delta):
                await self._stop_typing()
                if self.view is None:
                    self.view = self._new_view()
                self.view.text += delta
            case TextDone(text=final_text):
                await self._stop_typing()
                if self.view is not None:
                    await self._close_stream(final_text)
                elif final_text.strip():
                    await self.sender.send_formatted(final_text)
            case Message(text=message_text):
                await self._stop_typing()
                await self._close_stream("")
                await self.sender.send_formatted(message_text)
            case Buttons(text=prompt, buttons=buttons):
                await self._stop_typing()
                await self._close_stream("")
                await self.sender.send_formatted(prompt, keyboard(buttons, self.renderer.codec))
            case Report(evaluation_id=evaluation_id):
                log.debug("telegram: report %s is not shown to the candidate", evaluation_id)
            case Handoff(reason=reason):
                log.debug("telegram: hand-off (%s) is not shown in the chat", reason)
            case Sources() if output.items:
                await self._stop_typing()
                await self._close_stream("")
                await self.sender.send_formatted(sources_message(output))

    def _new_view(self) -> StreamView:
        if is_private_chat(self.sender.chat_id):
            return DraftView(self.sender, self.renderer.timing)
        return EditView(self.sender)

    async def _close_stream(self, final_text: str) -> None:
        view, self.view = self.view, None
        if view is None:
            return
        text = final_text if final_text.strip() else view.text
        if text.strip():
            await view.finish(text)

    async def _keep_typing(self) -> None:
        while True:
            try:
                await self.sender.typing()
            except DeliveryBlocked:
                return  # the next real send raises it where it is handled
            except Exception as error:  # noqa: BLE001 - a typing hint must never end a turn
                log.warning("telegram typing action failed: %r", error)
            await asyncio.sleep(self.renderer.timing.typing_interval_s)

    async def _stop_typing(self) -> None:
        task, self._typing = self._typing, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def sources_message(sources: Sources) -> str:
    """The cited documents, one a line; Telegram turns a bare URL into a link, and a
    document without one is shown by its title."""
    lines = [f"[{n}] {title}" + (f" {url}" if url else "") for n, title, url in sources.links()]
    return "\n".join([f"{text('kb_sources', sources.lang)}:", *lines])
