"""What the fake Slack workspace holds: messages (as a user would see them), streams,
assistant threads, and a record of every Web API call."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

STREAM_MAX_CHARS = 12_000  # chat.startStream/appendStream/stopStream: whole streamed message
MARKDOWN_MAX_CHARS = 12_000  # markdown_text on chat.postMessage / chat.update
TEXT_MAX_CHARS = 40_000  # Slack truncates `text` beyond this; the fake refuses it


class ApiError(Exception):
    """Slack's `ok: false` answer, with its error code."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


@dataclass
class Call:
    """One Web API call as the fake answered it."""

    method: str
    params: dict[str, Any]
    at: float  # time.monotonic() when it arrived
    status: int = 200
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == 200 and self.error is None


@dataclass
class FakeMessage:
    channel: str
    ts: str
    text: str
    user: str | None = None  # a person (or the bot's user id for the bot's own messages)
    bot_id: str | None = None
    thread_ts: str | None = None
    blocks: list[dict[str, Any]] = field(default_factory=list)
    streaming: bool = False
    stream_started_at: float = 0.0
    edits: int = 0
    ephemeral_for: str | None = None
    files: list[dict[str, Any]] = field(default_factory=list)
    # message metadata ({"event_type", "event_payload"}): shown to apps only when asked for
    metadata: dict[str, Any] | None = None


@dataclass
class AssistantThread:
    channel: str
    thread_ts: str
    statuses: list[str] = field(default_factory=list)  # every status set, "" clears
    suggested_prompts: list[dict[str, str]] = field(default_factory=list)
    prompts_title: str = ""
    title: str = ""

    @property
    def status(self) -> str:
        return self.statuses[-1] if self.statuses else ""


class Workspace:
    def __init__(self) -> None:
        self.messages: list[FakeMessage] = []
        self.assistant_threads: dict[tuple[str, str], AssistantThread] = {}
        self.users: dict[str, dict[str, Any]] = {}
        self.members: dict[str, list[str]] = {}
        self.uploads: dict[str, dict[str, Any]] = {}
        self.files: dict[str, dict[str, Any]] = {}  # shared by people: id -> facts + content
        self._clock = time.time()

    def next_ts(self) -> str:
        # Unique, increasing, and shaped like Slack's "1700000000.000100"
        self._clock = max(self._clock + 0.0001, time.time())
        return f"{self._clock:.6f}"

    def find(self, channel: str, ts: str) -> FakeMessage | None:
        for message in self.messages:
            if message.channel == channel and message.ts == ts:
                return message
        return None

    def add(self, message: FakeMessage) -> FakeMessage:
        self.messages.append(message)
        return message

    def thread(self, channel: str, thread_ts: str) -> AssistantThread:
        key = (channel, thread_ts)
        if key not in self.assistant_threads:
            self.assistant_threads[key] = AssistantThread(channel, thread_ts)
        return self.assistant_threads[key]
