"""A scripted OpenAI-compatible chat server that stands in for vLLM in logic tests.

Tests enqueue `Answer`s (text, reasoning, JSON, errors, delays, disconnects), point the real
`openai.AsyncOpenAI` client at `base_url`, and read back `requests`, `running` and `aborted`.
It speaks HTTP on 127.0.0.1 with an ephemeral port, so the whole client stack is exercised.

Like vLLM it has a context window (tests.fakes.llm_window): /v1/models reports it as
`max_model_len`, and a prompt over it is refused with vLLM's HTTP 400 body.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.fakes.llm_window import DEFAULT_CONTEXT_WINDOW, count_prompt_tokens, refusal_for_length
from tests.fakes.serving import local_port, serve_local

# One piece per word with its leading whitespace, like the single-token deltas vLLM sends.
_TOKEN_RE = re.compile(r"\s*\S+|\s+")


def split_tokens(text: str) -> list[str]:
    return _TOKEN_RE.findall(text)


@dataclass
class Answer:
    """One scripted reply. Every field has a default so tests name only what they care about."""

    text: str = ""
    reasoning: str = ""
    # vLLM's reasoning parsers emit `reasoning_content`; gpt-oss (harmony) uses `reasoning`.
    reasoning_field: str = "reasoning_content"
    json: Any = None
    status: int = 200
    retry_after: float | None = None
    ttft: float = 0.0
    token_delay: float = 0.0
    disconnect_after: int | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cached_tokens: int | None = None
    finish_reason: str = "stop"

    def content(self) -> str:
        return json.dumps(self.json) if self.json is not None else self.text


AnswerSource = Answer | Callable[[dict[str, Any]], Answer]


def echo_last_user_message(body: dict[str, Any]) -> Answer:
    """A `default` that answers with the last user message: handy when a test sends many turns."""
    for message in reversed(body.get("messages", [])):
        if message.get("role") == "user" and isinstance(message.get("content"), str):
            return Answer(text=message["content"])
    return Answer(text="")


def _error_body(message: str, status: int) -> dict[str, Any]:
    kinds = {400: "BadRequestError", 404: "NotFoundError", 429: "RateLimitError"}
    kind = kinds.get(status, "InternalServerError" if status >= 500 else "APIError")
    return {"error": {"message": message, "type": kind, "param": None, "code": status}}


class FakeLLMServer:
    """Serves /v1/models, /v1/chat/completions (plain and SSE), /health and /metrics."""

    def __init__(
        self,
        model: str = "fake-model",
        *,
        context_window: int = DEFAULT_CONTEXT_WINDOW,
        chars_per_token: int = 4,
        report_window: bool = True,  # False: a server whose /v1/models has no max_model_len
    ) -> None:
        self.model = model
        self.context_window = context_window
        self.chars_per_token = chars_per_token
        self.report_window = report_window
        self.refused = 0  # prompts refused as longer than the window
        self.base_url = ""
        self.requests: list[dict[str, Any]] = []
        self.default: AnswerSource | None = None
        self.healthy = True
        self.running = 0
        self.aborted = 0
        self.completed = 0
        self._queue: deque[AnswerSource] = deque()
        self._changed = asyncio.Event()
        self._runner: web.AppRunner | None = None

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> str:
        app = web.Application()
        app.router.add_get("/v1/models", self._models)
        app.router.add_get("/health", self._health)
        app.router.add_get("/metrics", self._metrics)
        app.router.add_post("/v1/chat/completions", self._chat_completions)
        # A short shutdown timeout: a test that stops mid-stream should not wait a minute.
        self._runner = await serve_local(app, shutdown_timeout=1.0)
        self.base_url = f"http://127.0.0.1:{local_port(self._runner)}/v1"
        return self.base_url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeLLMServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # -- scripting ------------------------------------------------------------------------

    def enqueue(self, *answers: AnswerSource | str) -> None:
        """Answers served in order; a callable one is built from the request it answers."""
        for answer in answers:
            self._queue.append(Answer(text=answer) if isinstance(answer, str) else answer)

    @property
    def pending(self) -> int:
        """Answers enqueued but not served yet."""
        return len(self._queue)

    async def wait_until(self, predicate: Callable[[], bool], timeout_s: float = 5.0) -> None:
        """Wait until `predicate()` holds; it is rechecked whenever the server's counters move."""
        async with asyncio.timeout(timeout_s):
            while not predicate():
                changed = self._changed
                await changed.wait()

    def _notify(self) -> None:
        # Wake every waiter once; a fresh Event catches the next change. Synchronous, so it is
        # safe in `finally` blocks of a cancelled handler.
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    def _next_answer(self, body: dict[str, Any]) -> Answer | None:
        if self._queue:
            queued = self._queue.popleft()
            return queued if isinstance(queued, Answer) else queued(body)
        if self.default is None:
            return None
        return self.default if isinstance(self.default, Answer) else self.default(body)

    # -- plain endpoints ------------------------------------------------------------------

    async def _models(self, request: web.Request) -> web.Response:
        card = {
            "id": self.model,
            "object": "model",
            "created": 0,
            "owned_by": "vllm",
        }
        if self.report_window:
            card["max_model_len"] = self.context_window
        return web.json_response({"object": "list", "data": [card]})

    async def _health(self, request: web.Request) -> web.Response:
        return web.Response(status=200 if self.healthy else 503)

    async def _metrics(self, request: web.Request) -> web.Response:
        label = f'{{model_name="{self.model}"}}'
        lines = [
            "# TYPE vllm:num_requests_running gauge",
            f"vllm:num_requests_running{label} {self.running}",
            "# TYPE vllm:num_requests_waiting gauge",
            f"vllm:num_requests_waiting{label} 0",
            "# TYPE vllm:request_received_total counter",
            f"vllm:request_received_total{label} {len(self.requests)}",
            "# TYPE vllm:request_success_total counter",
            f"vllm:request_success_total{label} {self.completed}",
            "# TYPE vllm:request_aborted_total counter",
            f"vllm:request_aborted_total{label} {self.aborted}",
        ]
        return web.Response(text="\n".join(lines) + "\n", content_type="text/plain")

    # -- chat completions -----------------------------------------------------------------

    def _error(self, message: str, status: int, retry_after: float | None = None) -> web.Response:
        headers = {} if retry_after is None else {"Retry-After": f"{retry_after:g}"}
        return web.json_response(_error_body(message, status), status=status, headers=headers)

    async def _chat_completions(self, request: web.Request) -> web.StreamResponse:
        try:
            body = await request.json()
        except ValueError:
            return self._error("request body is not valid JSON", 400)
        if not isinstance(body, dict):
            return self._error("request body must be a JSON object", 400)
        self.requests.append(
            {**body, "_headers": {k.lower(): v for k, v in request.headers.items()}}
        )
        self._notify()
        if not self.healthy:
            return self._error("the fake LLM server is marked unhealthy", 503)
        if body.get("model") != self.model:
            return self._error(f"The model `{body.get('model')}` does not exist.", 404)
        if refusal := self._too_long(body):
            self.refused += 1
            self._notify()
            return self._error(refusal, 400)
        answer = self._next_answer(body)
        if answer is None:
            return self._error("FakeLLMServer: no answer enqueued and no default set", 500)
        if answer.status != 200:
            return self._error(f"scripted error {answer.status}", answer.status, answer.retry_after)

        self.running += 1
        self._notify()
        try:
            if body.get("stream"):
                return await self._stream(request, body, answer)
            return await self._complete(request, body, answer)
        finally:
            self.running -= 1
            self._notify()

    def prompt_tokens(self, body: dict[str, Any]) -> int:
        return count_prompt_tokens(body, self.chars_per_token)

    def _too_long(self, body: dict[str, Any]) -> str | None:
        return refusal_for_length(self.prompt_tokens(body), self.context_window, body)

    def _usage(self, body: dict[str, Any], answer: Answer) -> dict[str, Any]:
        prompt = answer.prompt_tokens
        if prompt is None:
            prompt = self.prompt_tokens(body)
        completion = answer.completion_tokens
        if completion is None:
            completion = len(split_tokens(answer.reasoning)) + len(split_tokens(answer.content()))
        return {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": answer.cached_tokens or 0},
        }

    async def _complete(
        self, request: web.Request, body: dict[str, Any], answer: Answer
    ) -> web.StreamResponse:
        pieces = len(split_tokens(answer.reasoning)) + len(split_tokens(answer.content()))
        await asyncio.sleep(answer.ttft + answer.token_delay * pieces)
        if answer.disconnect_after is not None:
            return self._hang_up(request)
        message: dict[str, Any] = {"role": "assistant", "content": answer.content()}
        if answer.reasoning:
            message[answer.reasoning_field] = answer.reasoning
        choice = {"index": 0, "message": message, "finish_reason": answer.finish_reason}
        self.completed += 1
        return web.json_response(
            {
                "id": f"chatcmpl-{uuid.uuid4().hex}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": self.model,
                "choices": [choice],
                "usage": self._usage(body, answer),
            }
        )

    def _hang_up(
        self, request: web.Request, response: web.StreamResponse | None = None
    ) -> web.StreamResponse:
        """Drop the connection without finishing the response, like a crashed backend."""
        if request.transport is not None:
            request.transport.close()
        # aiohttp's own write_eof on the closed transport fails with ConnectionError, which it
        # treats as a client disconnect: nothing is logged as an error.
        return response if response is not None else web.StreamResponse()

    async def _stream(
        self, request: web.Request, body: dict[str, Any], answer: Answer
    ) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        chunk_id = f"chatcmpl-{uuid.uuid4().hex}"
        created = int(time.time())

        def chunk(choices: list[dict[str, Any]], **extra: Any) -> bytes:
            payload = {
                "id": chunk_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": self.model,
                "choices": choices,
                **extra,
            }
            return f"data: {json.dumps(payload)}\n\n".encode()

        def delta(fields: dict[str, Any], finish_reason: str | None = None) -> bytes:
            return chunk([{"index": 0, "delta": fields, "finish_reason": finish_reason}])

        deltas = [delta({"role": "assistant", "content": ""})]
        deltas += [delta({answer.reasoning_field: p}) for p in split_tokens(answer.reasoning)]
        content = [delta({"content": p}) for p in split_tokens(answer.content())]
        try:
            await asyncio.sleep(answer.ttft)
            for index, data in enumerate(deltas + content):
                if index > 0:
                    await asyncio.sleep(answer.token_delay)
                await response.write(data)
                sent_content = index - len(deltas) + 1
                if answer.disconnect_after is not None and sent_content >= answer.disconnect_after:
                    return self._hang_up(request, response)
            await response.write(delta({}, answer.finish_reason))
            if (body.get("stream_options") or {}).get("include_usage"):
                await response.write(chunk([], usage=self._usage(body, answer)))
            await response.write(b"data: [DONE]\n\n")
            await response.write_eof()
        except ConnectionResetError:
            # The client went away mid-stream (it broke out of the loop or timed out).
            self.aborted += 1
            return response
        except asyncio.CancelledError:
            # aiohttp cancels the handler on disconnect when handler_cancellation is on.
            self.aborted += 1
            raise
        self.completed += 1
        return response
