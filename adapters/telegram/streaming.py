"""How a reply grows on screen while the model writes it.

Private chats: `sendMessageDraft` (an ephemeral, animated preview) and one final
`sendMessage`. Groups: `sendMessage`, then `editMessageText` at most once per interval per
chat, never an edit that changes nothing. Both stream plain text and format once at the end.
"""

from __future__ import annotations

import logging
import random
import time
from typing import Protocol

from telegram.error import BadRequest

from adapters.telegram.formatting import split_text
from adapters.telegram.sender import ChatSender, RenderTiming

log = logging.getLogger(__name__)


class StreamView(Protocol):
    text: str

    def due_in(self) -> float | None:
        """Seconds until a flush is useful and allowed; None when nothing is pending."""

    async def flush(self) -> None: ...

    async def finish(self, final_text: str) -> None: ...


class DraftView:
    """Private chat: the tail of the reply as a draft, then the whole reply as messages."""

    def __init__(self, sender: ChatSender, timing: RenderTiming) -> None:
        self.sender = sender
        self.timing = timing
        self.text = ""
        self.draft_id = random.randint(1, 2**31 - 1)  # stable for the turn, never zero
        self._shown = ""
        self._next_at = 0.0
        self._disabled = False

    def due_in(self) -> float | None:
        if self._disabled or self.text == self._shown:
            return None
        return max(0.0, self._next_at - time.monotonic())

    async def flush(self) -> None:
        parts = split_text(self.text)
        tail = parts[-1] if parts else ""
        self._shown = self.text
        self._next_at = time.monotonic() + self.timing.draft_interval_s
        if not tail:
            return
        try:
            await self.sender.draft(self.draft_id, tail)
        except BadRequest as error:
            # No drafts here (an old Bot API server, say): the final message still comes.
            log.warning("telegram draft refused (%s); streaming disabled", error.message)
            self._disabled = True

    async def finish(self, final_text: str) -> None:
        await self.sender.send_formatted(final_text)


class EditView:
    """Group chat: plain-text messages edited as the reply grows, formatted at the end."""

    def __init__(self, sender: ChatSender) -> None:
        self.sender = sender
        self.text = ""
        self._message_ids: list[int] = []
        self._shown: list[str] = []

    def _pending(self) -> bool:
        return split_text(self.text) != self._shown

    def due_in(self) -> float | None:
        if not self._pending():
            return None
        return self.sender.throttle.due_in(self.sender.chat_id)

    async def flush(self) -> None:
        for index, part in enumerate(split_text(self.text)):
            if index < len(self._message_ids):
                if self._shown[index] == part:
                    continue
                await self.sender.throttle.take(self.sender.chat_id)
                await self.sender.edit_plain(self._message_ids[index], part)
                self._shown[index] = part
            else:
                await self.sender.throttle.take(self.sender.chat_id)
                self._message_ids.append(await self.sender.send_plain(part))
                self._shown.append(part)

    async def finish(self, final_text: str) -> None:
        parts = split_text(final_text)
        for index, part in enumerate(parts):
            if index < len(self._message_ids):
                await self.sender.edit_formatted(self._message_ids[index], part, self._shown[index])
            else:
                await self.sender.send_formatted(part)
        if len(self._message_ids) > len(parts):
            log.warning("telegram: final reply shorter than its stream; extra parts left as-is")
