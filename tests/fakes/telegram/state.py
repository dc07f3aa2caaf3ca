"""What the fake Telegram remembers: chats, messages, drafts, calls, faults and flood limits."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class FakeMessage:
    """A message as the chat shows it now (after every edit)."""

    chat_id: int
    message_id: int
    sender_id: int
    from_bot: bool
    text: str  # visible text, after entity parsing
    raw: str = ""  # what the bot sent, markup included
    parse_mode: str | None = None
    entities: list[dict[str, Any]] = field(default_factory=list)
    reply_markup: dict[str, Any] | None = None
    edit_count: int = 0
    date: int = field(default_factory=lambda: int(time.time()))

    @property
    def buttons(self) -> list[tuple[str, str]]:
        """(label, callback_data) of the inline keyboard, row by row."""
        rows = (self.reply_markup or {}).get("inline_keyboard", [])
        return [(cell["text"], cell.get("callback_data", "")) for row in rows for cell in row]

    def __str__(self) -> str:
        return f"{'bot' if self.from_bot else 'user'}: {self.text}"


@dataclass(frozen=True)
class Draft:
    chat_id: int
    draft_id: int
    text: str
    at: float


@dataclass(frozen=True)
class Call:
    """One Bot API request as the fake answered it."""

    method: str
    params: dict[str, Any]
    status: int
    at: float  # time.monotonic() when the request arrived
    description: str = ""

    @property
    def chat_id(self) -> int | None:
        value = self.params.get("chat_id")
        return int(value) if value is not None else None


@dataclass
class Fault:
    method: str  # lower-case method name
    status: int
    retry_after: int | None
    times: int
    description: str | None


@dataclass
class TokenBucket:
    capacity: float
    per_second: float
    tokens: float = -1.0
    updated: float = field(default_factory=time.monotonic)

    def take(self) -> float:
        """0 when a token was taken, else the seconds until one is available."""
        now = time.monotonic()
        if self.tokens < 0:
            self.tokens = self.capacity
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.per_second)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.per_second


@dataclass
class FloodLimits:
    """Telegram's per-chat limits: about one message a second (bursts tolerated) and 20 a
    minute in groups. Exceeding them gets 429 with `retry_after` (whole seconds)."""

    per_chat_per_s: float = 1.0
    burst: int = 3
    group_per_minute: float = 20.0
    enabled: bool = True
    _chat: dict[int, TokenBucket] = field(default_factory=dict)
    _group: dict[int, TokenBucket] = field(default_factory=dict)

    def check(self, chat_id: int) -> int | None:
        """None when allowed, else retry_after."""
        if not self.enabled:
            return None
        chat = self._chat.setdefault(chat_id, TokenBucket(self.burst, self.per_chat_per_s))
        wait = chat.take()
        if wait == 0 and chat_id < 0:
            group = self._group.setdefault(
                chat_id, TokenBucket(self.group_per_minute, self.group_per_minute / 60)
            )
            wait = group.take()
            if wait:
                chat.tokens += 1  # not sent after all
        return max(1, math.ceil(wait)) if wait else None
