"""The core's own types: what adapters hand to the engine and what flows hand back.

Nothing here knows about Slack, Telegram, SQL or HTTP. Adapters translate platform events
into `Incoming` and render the `Output` stream; the engine and flows speak only these types.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any


class Platform(StrEnum):
    CONSOLE = "console"
    TELEGRAM = "telegram"
    SLACK = "slack"


@dataclass(frozen=True, slots=True)
class ConversationKey:
    """Whose conversation a message belongs to.

    Built by an adapter through one of the named policies below, never by ad-hoc
    `chat_id` logic: a Telegram private chat is one user in one chat, a Slack channel
    thread is shared by everyone who writes in it.
    """

    platform: Platform
    chat_id: str
    user_id: str = "*"
    thread_id: str = ""

    @classmethod
    def user_in_chat(cls, platform: Platform, chat_id: str, user_id: str) -> ConversationKey:
        return cls(platform, chat_id, user_id, "")

    @classmethod
    def thread(cls, platform: Platform, chat_id: str, thread_id: str) -> ConversationKey:
        return cls(platform, chat_id, "*", thread_id)

    def as_str(self) -> str:
        return f"{self.platform.value}:{self.chat_id}:{self.user_id}:{self.thread_id}"


@dataclass(frozen=True, slots=True)
class UserRef:
    """A person on a platform: one row in the users table per platform identity."""

    platform: Platform
    platform_user_id: str
    display_name: str = ""
    locale: str | None = None


class InputKind(StrEnum):
    TEXT = "text"
    ACTION = "action"  # a button tap
    START = "start"  # begin (or restart) a conversation with a flow
    COMMAND = "command"  # "/cancel", "/lang zh"...: text holds "cancel" or "lang zh"
    UNSUPPORTED = "unsupported"  # a photo, a sticker...
    VOICE = "voice"  # a voice note, video note or audio file: action_id holds its AudioRef
    DOCUMENT = "document"  # a file sent as a document (a résumé): action_id holds its DocumentRef


@dataclass(frozen=True, slots=True)
class AudioRef:
    """Where a voice answer's audio is on the platform; stored (as `ref()`) in the message's
    action_id, so the message is kept before anything is downloaded or transcribed."""

    source: str  # "voice" | "video_note" | "audio"
    file_id: str
    duration_s: int = 0
    size: int = 0  # bytes, as the platform reports them (0: unknown)

    def ref(self) -> str:
        return f"audio|{self.source}|{self.duration_s}|{self.size}|{self.file_id}"

    @classmethod
    def parse(cls, ref: str) -> AudioRef:
        tag, source, duration, size, file_id = ref.split("|", 4)
        if tag != "audio" or not file_id:
            raise ValueError(f"not an audio reference: {ref[:40]!r}")
        return cls(source, file_id, int(duration), int(size))


@dataclass(frozen=True, slots=True)
class DocumentRef:
    """Where a file sent as a document is on the platform; stored (as `ref()`) in the
    message's action_id like an `AudioRef`, so the message is kept before the download."""

    file_id: str
    filename: str = ""
    mime_type: str = ""
    size: int = 0  # bytes, as the platform reports them (0: unknown)

    def ref(self) -> str:
        # The file name goes last: it is the one part that may hold a "|".
        return f"document|{self.size}|{self.mime_type}|{self.file_id}|{self.filename}"

    @classmethod
    def parse(cls, ref: str) -> DocumentRef:
        tag, size, mime_type, file_id, filename = ref.split("|", 4)
        if tag != "document" or not file_id:
            raise ValueError(f"not a document reference: {ref[:40]!r}")
        return cls(file_id, filename, mime_type, int(size))


@dataclass(frozen=True, slots=True)
class FlowStart:
    """Which flow a new conversation runs, and its parameters (role, invitation...)."""

    flow: str
    params: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Incoming:
    """One thing a user did, already translated out of the platform's vocabulary."""

    key: ConversationKey
    user: UserRef
    kind: InputKind = InputKind.TEXT
    text: str = ""
    action_id: str = ""  # for ACTION: which button; text holds its value
    event_id: str | None = None  # the platform's id for dedupe (update_id, event_id...)
    start: FlowStart | None = None  # flow for a new conversation (START, or first message)
    received_at: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass(frozen=True, slots=True)
class Button:
    label: str
    action_id: str
    value: str = ""
    style: str = ""  # "primary" | "danger" | "" : a hint; adapters may ignore it


# ---- Output: what a flow (through the engine) asks an adapter to show ----------------


@dataclass(frozen=True, slots=True)
class TextDelta:
    """A piece of the reply being streamed; plain text, never formatted."""

    text: str


@dataclass(frozen=True, slots=True)
class TextDone:
    """The reply is complete; `text` is the whole of it, to render once, formatted."""

    text: str


@dataclass(frozen=True, slots=True)
class Message:
    """A complete message that needs no streaming (a question, a notice)."""

    text: str


@dataclass(frozen=True, slots=True)
class Buttons:
    text: str
    buttons: tuple[Button, ...]


@dataclass(frozen=True, slots=True)
class Thinking:
    """Waiting for the model: adapters show a typing action or a status line."""

    status: str = ""


@dataclass(frozen=True, slots=True)
class Report:
    """An evaluation was stored for this conversation; its id, for hiring-channel reports."""

    evaluation_id: int


@dataclass(frozen=True, slots=True)
class Handoff:
    """The conversation needs a person (support escalation, human interview requested)."""

    reason: str
    summary: str = ""


@dataclass(frozen=True, slots=True)
class Source:
    """One document an answer cites: `number` is the [n] in the answer's text."""

    number: int
    title: str
    location: str  # a URL, or the path the document was indexed from


@dataclass(frozen=True, slots=True)
class Sources:
    """The documents the answer above cites, shown after it (Slack: a context block with
    links; Telegram: links; terminal: a list). Not a text of its own: never stored as one."""

    items: tuple[Source, ...]
    lang: str = "en"  # of the conversation: for the list's heading

    def links(self) -> list[tuple[int, str, str | None]]:
        """(number, title, URL or None): a path on the bot's server is no link for a user."""
        return [
            (
                s.number,
                s.title,
                s.location if s.location.startswith(("http://", "https://")) else None,
            )
            for s in self.items
        ]


Output = TextDelta | TextDone | Message | Buttons | Thinking | Report | Handoff | Sources


def utcnow() -> datetime:
    return datetime.now(UTC)


JSON = dict[str, Any]
