"""The LLM seam as flows see it: chunks in, a validated model out. No `openai` here."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Generic, Literal, Protocol, TypedDict, TypeVar

from pydantic import BaseModel


class ChatMessage(TypedDict):
    role: Literal["system", "user", "assistant"]
    content: str


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        """Two calls' tokens as one reply's (a grounded answer and its second reading)."""
        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.cached_tokens + other.cached_tokens,
        )


@dataclass(frozen=True, slots=True)
class ContentDelta:
    """User-visible text."""

    text: str


@dataclass(frozen=True, slots=True)
class ReasoningDelta:
    """The model's reasoning (gpt-oss harmony): logged and counted, never shown."""

    text: str


@dataclass(frozen=True, slots=True)
class StreamEnd:
    model: str
    usage: Usage | None
    finish_reason: str | None
    ttft_ms: int | None  # first content token, not first reasoning token
    latency_ms: int


StreamEvent = ContentDelta | ReasoningDelta | StreamEnd

SchemaT = TypeVar("SchemaT", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class Structured(Generic[SchemaT]):
    value: SchemaT
    raw: str  # the model's JSON text that validated, for audit
    model: str
    usage: Usage | None
    repaired: bool  # the first answer did not validate; the repair attempt did


class LLM(Protocol):
    async def model_name(self) -> str: ...

    def stream(
        self,
        messages: Sequence[ChatMessage],
        *,
        temperature: float | None = None,
        max_tokens: int | None = None,
        session_id: str | None = None,
    ) -> AsyncIterator[StreamEvent]:
        """Content and reasoning deltas, then exactly one StreamEnd. Leaving the iteration
        early closes the HTTP response, so the server aborts the request."""

    async def structured(
        self,
        messages: Sequence[ChatMessage],
        schema: type[SchemaT],
        *,
        temperature: float = 0.0,
        max_tokens: int | None = None,
        session_id: str | None = None,
    ) -> Structured[SchemaT]:
        """A JSON answer validated against `schema`; one repair attempt, then LLMBadOutput."""

    async def ping(self) -> bool: ...
