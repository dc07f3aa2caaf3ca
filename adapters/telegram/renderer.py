"""The Telegram `Renderer`: one turn's `Output` stream, shown in one chat.

Turns into the same chat are rendered one after another (a per-chat lock), so replies keep
their order and share the chat's edit budget.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from telegram import Bot

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
from bot.texts import text

log = logging.getLogger(__name__)


def is_private_chat(chat_id: int) -> bool:
    # Telegram ids: users (and so private chats) are positive, groups and channels negative.
    return chat_id > 0


async def _next_output(outputs: AsyncIterator[Output]) -> Output:
    return await anext(outputs)


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

    async def __call__(self, key: ConversationKey, outputs: AsyncIterator[Output]) -> None:
        chat_id = int(key.chat_id)
        lock = self._chat_locks.setdefault(chat_id, asyncio.Lock())
        async with lock:
            sender = ChatSender(self.bot, chat_id, self._throttle, self.policy)
            await _Turn(self, sender).run(outputs)


class _Turn:
    def __init__(self, renderer: TelegramRenderer, sender: ChatSender) -> None:
        self.renderer = renderer
        self.sender = sender
        self.view: StreamView | None = None
        self._typing: asyncio.Task[None] | None = None

    async def run(self, outputs: AsyncIterator[Output]) -> None:
        pending: asyncio.Task[Output] | None = None
        try:
            while True:
                if pending is None:
                    pending = asyncio.create_task(_next_output(outputs))
                delay = self.view.due_in() if self.view is not None else None
                done, _ = await asyncio.wait({pending}, timeout=delay)
                if not done:
                    assert self.view is not None  # a timeout only happens with a view
                    await self.view.flush()
                    continue
                finished, pending = pending, None
                try:
                    output = finished.result()
                except StopAsyncIteration:
                    break
                await self._show(output)
            await self._close_stream("")  # a stream that ended without TextDone
        finally:
            await self._stop_typing()
            if pending is not None:
                pending.cancel()
                with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                    await pending

    async def _show(self, output: Output) -> None:
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
                # Telegram turns a bare URL into a link; a title alone when there is none.
                lines = [
                    f"[{n}] {title}" + (f" {url}" if url else "")
                    for n, title, url in output.links()
                ]
                await self.sender.send_formatted(
                    "\n".join([f"{text('kb_sources', output.lang)}:", *lines])
                )

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
