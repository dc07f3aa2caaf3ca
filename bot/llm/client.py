"""The one place that speaks to the model server, over `openai.AsyncOpenAI`.

Retries, timing and usage accounting live here once, not in flows. Retries happen only
before the first token: after it, the user has seen text and a retry would repeat it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, TypeVar, cast

import httpx2
import openai
from openai.types.chat import ChatCompletionMessageParam
from pydantic import ValidationError

from bot.errors import LLMBadOutput, LLMError, LLMUnavailable
from bot.llm import sse
from bot.llm.types import (
    ChatMessage,
    ContentDelta,
    ReasoningDelta,
    SchemaT,
    StreamEnd,
    StreamEvent,
    Structured,
    Usage,
)

log = logging.getLogger(__name__)

RETRYABLE_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})
T = TypeVar("T")


class OpenAICompatibleLLM:
    def __init__(
        self,
        base_url: str,
        *,
        api_key: str = "EMPTY",
        model: str | None = None,
        timeout_s: float = 60.0,
        connect_timeout_s: float = 5.0,
        max_retries: int = 3,
        backoff_s: float = 0.5,
        default_max_tokens: int = 512,
        default_temperature: float = 0.3,
    ) -> None:
        self._client = openai.AsyncOpenAI(
            base_url=base_url,
            api_key=api_key,
            max_retries=0,  # ours below: only before the first token
            timeout=openai.Timeout(timeout_s, connect=connect_timeout_s),
        )
        self._model = model
        self._model_lock = asyncio.Lock()
        self._max_retries = max_retries
        self._backoff_s = backoff_s
        self._max_tokens = default_max_tokens
        self._temperature = default_temperature

    async def close(self) -> None:
        await self._client.close()

    async def model_name(self) -> str:
        if self._model is None:
            async with self._model_lock:
                if self._model is None:
                    models = await self._retrying(self._client.models.list)
                    if not models.data:
                        raise LLMUnavailable("the server lists no model at /v1/models")
                    self._model = models.data[0].id
                    log.info("using model %s, the first listed by the server", self._model)
        return self._model

    async def ping(self) -> bool:
        try:
            await self._client.models.list(timeout=3.0)
        except openai.OpenAIError as exc:
            log.warning("LLM backend unreachable: %s", type(exc).__name__)
            return False
        return True

    async def stream(
        self,
        messages: Sequence[ChatMessage],
        *,
        temperature: float | None = None,
        max_tokens: int | None = None,
        session_id: str | None = None,
    ) -> AsyncIterator[StreamEvent]:
        model = await self.model_name()
        started = time.perf_counter()
        # bot.llm.sse: the cheap path (no pydantic object per token, no transform of the
        # history); the request, its headers and its HTTP errors are still openai's.
        response = await self._retrying(
            lambda: sse.open_stream(
                self._client,
                model=model,
                messages=messages,
                temperature=self._temperature if temperature is None else temperature,
                max_tokens=max_tokens or self._max_tokens,
                headers=_session_headers(session_id),
            )
        )
        ttft_ms: int | None = None
        usage: Usage | None = None
        finish_reason: str | None = None
        try:
            async for piece in sse.pieces(response):
                usage = piece.usage or usage
                finish_reason = piece.finish_reason or finish_reason
                if piece.reasoning:
                    yield ReasoningDelta(piece.reasoning)
                if piece.content:
                    if ttft_ms is None:
                        ttft_ms = _ms_since(started)
                    yield ContentDelta(piece.content)
        except (openai.APIError, httpx2.HTTPError, sse.StreamError, ValueError) as exc:
            raise LLMUnavailable(f"stream interrupted: {type(exc).__name__}") from exc
        finally:
            # Closing the response tells the server to abort generation when we stop early.
            await response.aclose()
        yield StreamEnd(model, usage, finish_reason, ttft_ms, _ms_since(started))

    async def structured(
        self,
        messages: Sequence[ChatMessage],
        schema: type[SchemaT],
        *,
        temperature: float = 0.0,
        max_tokens: int | None = None,
        session_id: str | None = None,
    ) -> Structured[SchemaT]:
        model = await self.model_name()
        conversation = list(messages)
        response_format: Any = {
            "type": "json_schema",
            "json_schema": {"name": schema.__name__, "schema": schema.model_json_schema()},
        }
        raw = ""
        for attempt in range(2):
            completion = await self._retrying(
                lambda asked=conversation: self._client.chat.completions.create(  # type: ignore[misc]
                    model=model,
                    messages=_wire(asked),
                    response_format=response_format,
                    temperature=temperature,
                    max_tokens=max_tokens or max(self._max_tokens, 1024),
                    extra_headers=_session_headers(session_id),
                )
            )
            raw = (completion.choices[0].message.content or "") if completion.choices else ""
            try:
                value = schema.model_validate_json(raw)
            except ValidationError as exc:
                log.warning(
                    "structured output failed validation (attempt %d): %d errors",
                    attempt + 1,
                    exc.error_count(),
                )
                conversation = [*conversation, *_repair_messages(raw, exc)]
                continue
            return Structured(value, raw, completion.model, _usage(completion.usage), attempt > 0)
        raise LLMBadOutput(f"{schema.__name__} did not validate after one repair", raw)

    async def _retrying(self, call: Callable[[], Awaitable[T]]) -> T:
        """Retry connection errors, timeouts, 429 and 5xx with exponential backoff."""
        for attempt in range(self._max_retries + 1):
            try:
                return await call()
            except (openai.APIConnectionError, openai.APITimeoutError) as exc:
                reason, delay = type(exc).__name__, None
            except openai.APIStatusError as exc:
                if exc.status_code not in RETRYABLE_STATUS:
                    raise LLMError(f"backend refused the request: HTTP {exc.status_code}") from exc
                reason, delay = f"HTTP {exc.status_code}", _retry_after(exc.response)
            if attempt == self._max_retries:
                raise LLMUnavailable(f"gave up after {attempt + 1} attempts: {reason}")
            wait = delay if delay is not None else self._backoff_s * 2**attempt
            log.info("LLM call failed (%s); retry %d in %.1fs", reason, attempt + 1, wait)
            await asyncio.sleep(min(wait, 30.0))
        raise AssertionError("unreachable")


def _wire(messages: Sequence[ChatMessage]) -> list[ChatCompletionMessageParam]:
    return [cast(ChatCompletionMessageParam, dict(message)) for message in messages]


def _session_headers(session_id: str | None) -> dict[str, str] | None:
    # vllm-router's session routing keeps a conversation on the replica holding its prefix.
    return {"X-Session-ID": session_id} if session_id else None


def _usage(raw: Any) -> Usage | None:
    if raw is None:
        return None
    details = getattr(raw, "prompt_tokens_details", None)
    cached = getattr(details, "cached_tokens", None) if details is not None else None
    return Usage(raw.prompt_tokens or 0, raw.completion_tokens or 0, cached or 0)


def _retry_after(response: httpx2.Response) -> float | None:
    try:
        return max(0.0, float(response.headers.get("retry-after", "")))
    except ValueError:
        return None


def _repair_messages(raw: str, error: ValidationError) -> list[ChatMessage]:
    problems = "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'root'}: {e['msg']}" for e in error.errors()[:5]
    )
    return [
        {"role": "assistant", "content": raw[:4000]},
        {
            "role": "user",
            "content": "That answer was not valid against the JSON schema "
            f"({problems}). Answer again with only the JSON object.",
        },
    ]


def _ms_since(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)
