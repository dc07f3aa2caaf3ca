"""Bot API calls for one chat: formatted sends with a plain-text fall-back, edits, drafts.

All calls go through `deliver` (429 honoured, retries, 403 -> DeliveryBlocked). The edit
throttle is per chat and shared by every turn rendered into that chat.
"""

from __future__ import annotations

import asyncio
import html
import logging
import time
from dataclasses import dataclass, field

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram import Message as TgMessage
from telegram.constants import ChatAction, ParseMode
from telegram.error import BadRequest

from adapters.telegram.callbacks import CallbackCodec
from adapters.telegram.delivery import RetryPolicy, deliver, is_not_modified, is_parse_error
from adapters.telegram.formatting import markdown_to_html, split_text
from bot.domain import Button

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RenderTiming:
    edit_interval_s: float = 1.0  # Telegram: about one message or edit per second per chat
    draft_interval_s: float = 0.5
    typing_interval_s: float = 4.0  # the typing action shows for about 5 s


@dataclass(slots=True)
class EditThrottle:
    """When each chat may next be sent to or edited; shared across turns."""

    interval_s: float
    _next_at: dict[int, float] = field(default_factory=dict)

    def due_in(self, chat_id: int) -> float:
        return max(0.0, self._next_at.get(chat_id, 0.0) - time.monotonic())

    async def take(self, chat_id: int) -> None:
        delay = self.due_in(chat_id)
        if delay > 0:
            await asyncio.sleep(delay)
        self._next_at[chat_id] = time.monotonic() + self.interval_s


def keyboard(buttons: tuple[Button, ...], codec: CallbackCodec) -> InlineKeyboardMarkup:
    """Two buttons a row, or one a row when a label is long."""
    per_row = 1 if any(len(button.label) > 20 for button in buttons) else 2
    cells = [
        InlineKeyboardButton(
            button.label, callback_data=codec.encode(button.action_id, button.value)
        )
        for button in buttons
    ]
    rows = [cells[start : start + per_row] for start in range(0, len(cells), per_row)]
    return InlineKeyboardMarkup(rows)


class ChatSender:
    def __init__(self, bot: Bot, chat_id: int, throttle: EditThrottle, policy: RetryPolicy) -> None:
        self.bot = bot
        self.chat_id = chat_id
        self.throttle = throttle
        self.policy = policy
        # Groups are paced to the edit budget; private chats may burst (Telegram allows it)
        # and a 429 there is honoured by `deliver`.
        self.paced = chat_id < 0

    async def typing(self) -> None:
        await deliver(
            lambda: self.bot.send_chat_action(self.chat_id, ChatAction.TYPING),
            "sendChatAction",
            self.policy,
        )

    async def draft(self, draft_id: int, text: str) -> None:
        await deliver(
            lambda: self.bot.send_message_draft(self.chat_id, draft_id, text),
            "sendMessageDraft",
            self.policy,
        )

    async def send_plain(self, text: str) -> int:
        message = await deliver(
            lambda: self.bot.send_message(self.chat_id, text), "sendMessage", self.policy
        )
        return message.message_id

    async def send_formatted(
        self, markdown: str, markup: InlineKeyboardMarkup | None = None
    ) -> list[int]:
        """Send `markdown` as HTML in as many messages as it needs; the keyboard goes on the
        last one. A part Telegram refuses to parse is sent again as plain text."""
        parts = split_text(markdown) or ([markdown] if markup else [])
        message_ids: list[int] = []
        for index, part in enumerate(parts):
            part_markup = markup if index == len(parts) - 1 else None
            if self.paced:
                await self.throttle.take(self.chat_id)
            message_ids.append(await self._send_part(part, part_markup))
        return message_ids

    async def _send_part(self, part: str, markup: InlineKeyboardMarkup | None) -> int:
        async def as_html() -> TgMessage:
            return await self.bot.send_message(
                self.chat_id, markdown_to_html(part), parse_mode=ParseMode.HTML, reply_markup=markup
            )

        async def as_plain() -> TgMessage:
            return await self.bot.send_message(self.chat_id, part, reply_markup=markup)

        try:
            message = await deliver(as_html, "sendMessage", self.policy)
        except BadRequest as error:
            if not is_parse_error(error):
                raise
            log.warning("telegram refused the HTML (%s); sending plain text", error.message)
            message = await deliver(as_plain, "sendMessage", self.policy)
        return message.message_id

    async def edit_plain(self, message_id: int, text: str) -> None:
        try:
            await deliver(
                lambda: self.bot.edit_message_text(text, self.chat_id, message_id),
                "editMessageText",
                self.policy,
            )
        except BadRequest as error:
            if not is_not_modified(error):
                raise

    async def edit_formatted(self, message_id: int, markdown: str, shown: str) -> None:
        """Replace a streamed message with its final, formatted text; skip a no-op edit."""
        formatted = markdown_to_html(markdown)
        if formatted == html.escape(markdown, quote=False) and markdown == shown:
            return  # no formatting and the same text: Telegram would say "not modified"
        await self.throttle.take(self.chat_id)
        try:
            await deliver(
                lambda: self.bot.edit_message_text(
                    formatted, self.chat_id, message_id, parse_mode=ParseMode.HTML
                ),
                "editMessageText",
                self.policy,
            )
        except BadRequest as error:
            if is_not_modified(error):
                return
            if not is_parse_error(error):
                raise
            log.warning("telegram refused the HTML (%s); editing as plain text", error.message)
            if markdown != shown:
                await self.edit_plain(message_id, markdown)
