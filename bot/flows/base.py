"""What a flow is: a state machine over a typed state, driven by the engine.

A flow never touches a platform SDK or the database. It reads the conversation from
`TurnContext`, changes its own state object, and yields `FlowEvent`s: `Output` for the
user, and a few effects the engine carries out (store an evaluation, end the conversation).
If a turn fails half-way, the engine throws the changed state away and the message stays
pending, so a flow can mutate its state freely.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Protocol

from pydantic import BaseModel, ConfigDict

from bot.domain import JSON, FlowStart, Output, UserRef
from bot.llm.types import LLM, ChatMessage, Usage
from bot.prompts import PromptLibrary


class FlowState(BaseModel):
    """Fields every flow's state has; flows subclass it."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    lang: Literal["en", "zh"] = "en"
    lang_chosen: bool = False  # set by /lang: then the candidate's writing does not switch it
    started_with: dict[str, str] = {}  # the start's parameters: a second /start resumes


@dataclass(frozen=True, slots=True)
class UserInput:
    kind: Literal["text", "action"]
    text: str
    action_id: str = ""


@dataclass(frozen=True, slots=True)
class HistoryItem:
    role: Literal["user", "assistant"]
    text: str


class Checkpoints(Protocol):
    """Work of this turn saved before the turn is stored, found again when a kill makes the
    turn run again (bot/store/checkpoints.py). Saves work, decides nothing: a key not found
    means the work is done (again)."""

    async def load(self, key: str) -> JSON | None: ...

    async def save(self, key: str, data: JSON) -> None: ...


@dataclass(slots=True)
class TurnContext:
    conversation_id: int
    llm: LLM
    prompts: PromptLibrary
    history: Sequence[HistoryItem]
    user: UserRef
    user_id: int | None = None
    company_name: str = "Acme"
    max_tokens: int = 512
    temperature: float = 0.3
    evaluation_samples: int = 1
    retention_days: int = 180
    # Whether this user may take the interview for a role picked from the menu now (the
    # retake rule, bot.retakes); None: no rule applies.
    role_allowed: Callable[[str], Awaitable[bool]] | None = None
    checkpoints: Checkpoints | None = None  # None: nothing is saved before the turn is stored

    @property
    def session_id(self) -> str:
        return f"conversation-{self.conversation_id}"


# ---- effects a flow asks of the engine --------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReplyMeta:
    """How the reply of this turn was produced, stored with it."""

    model: str
    prompt_version: str
    usage: Usage | None = None
    ttft_ms: int | None = None
    latency_ms: int | None = None


@dataclass(frozen=True, slots=True)
class Evaluated:
    status: Literal["ok", "failed"]
    data: JSON
    raw_output: str
    model: str
    prompt_version: str
    role_version: str
    error: str = ""


@dataclass(frozen=True, slots=True)
class Finished:
    """The flow reached its end; the conversation is closed with this status."""

    status: Literal["finished", "cancelled", "expired"] = "finished"


FlowEvent = Output | ReplyMeta | Evaluated | Finished


class Flow(Protocol):
    name: ClassVar[str]
    state_type: ClassVar[type[FlowState]]

    def new_state(self, start: FlowStart, user: UserRef, prompts: PromptLibrary) -> FlowState:
        """The state of a new conversation; raise UserFacingError for a bad start."""

    def on_start(self, ctx: TurnContext, state: Any) -> AsyncIterator[FlowEvent]:
        """The bot speaks first (an explicit start: /start, a console session)."""

    def on_input(
        self, ctx: TurnContext, state: Any, user_input: UserInput
    ) -> AsyncIterator[FlowEvent]:
        """One user message or button tap."""

    def help_text(self, ctx: TurnContext, state: Any) -> str:
        """What /help answers, and a repeated /start: where the conversation stands."""


@dataclass
class FlowRegistry:
    """Flows by name. Built-in flows register the same way an outside one would."""

    flows: dict[str, Flow] = field(default_factory=dict)

    def register(self, flow: Flow) -> None:
        if flow.name in self.flows:
            raise ValueError(f"flow {flow.name!r} is registered twice")
        self.flows[flow.name] = flow

    def get(self, name: str) -> Flow:
        return self.flows[name]

    def __contains__(self, name: object) -> bool:
        return name in self.flows


def chat_history(
    system: str, history: Sequence[HistoryItem], render_user: Any = None
) -> list[ChatMessage]:
    """The system text first, then history only appended: vLLM's prefix cache serves it."""
    messages: list[ChatMessage] = [{"role": "system", "content": system}]
    for item in history:
        content = render_user(item.text) if (render_user and item.role == "user") else item.text
        messages.append({"role": item.role, "content": content})
    return messages
