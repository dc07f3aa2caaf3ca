"""The LLM client against the scripted server: retries before the first token only,
reasoning kept apart, usage, structured output with one repair, the model from /v1/models."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from pydantic import BaseModel

from bot.errors import LLMBadOutput, LLMError, LLMUnavailable
from bot.llm.client import OpenAICompatibleLLM
from bot.llm.types import ContentDelta, ReasoningDelta, StreamEnd, StreamEvent
from tests.fakes.llm_server import Answer, FakeLLMServer
from tests.vllm_server import free_port

HELLO = [{"role": "user", "content": "hello"}]


class Verdict(BaseModel):
    score: int
    reason: str


@pytest.fixture
async def llm(llm_server: FakeLLMServer) -> AsyncIterator[OpenAICompatibleLLM]:
    client = OpenAICompatibleLLM(llm_server.base_url, max_retries=2, backoff_s=0.01)
    yield client
    await client.close()


async def collect(stream: AsyncIterator[StreamEvent]) -> list[StreamEvent]:
    return [event async for event in stream]


async def test_stream_separates_reasoning_and_reports_usage(
    llm: OpenAICompatibleLLM, llm_server: FakeLLMServer
) -> None:
    llm_server.enqueue(
        Answer(
            text="Hi there.",
            reasoning="thinking hard",
            reasoning_field="reasoning",
            prompt_tokens=20,
            completion_tokens=3,
            cached_tokens=16,
        )
    )
    events = await collect(llm.stream(HELLO))  # type: ignore[arg-type]
    content = "".join(e.text for e in events if isinstance(e, ContentDelta))
    reasoning = "".join(e.text for e in events if isinstance(e, ReasoningDelta))
    assert content == "Hi there." and reasoning == "thinking hard"
    end = events[-1]
    assert isinstance(end, StreamEnd)
    assert end.model == "fake-model" and end.usage is not None
    assert (end.usage.prompt_tokens, end.usage.cached_tokens) == (20, 16)
    assert end.ttft_ms is not None and end.latency_ms >= end.ttft_ms


async def test_429_and_5xx_before_the_first_token_are_retried(
    llm: OpenAICompatibleLLM, llm_server: FakeLLMServer
) -> None:
    llm_server.enqueue(Answer(status=429, retry_after=0), Answer(status=503), "Finally.")
    events = await collect(llm.stream(HELLO))  # type: ignore[arg-type]
    assert "".join(e.text for e in events if isinstance(e, ContentDelta)) == "Finally."
    assert len(llm_server.requests) == 3


async def test_gives_up_with_a_typed_error(
    llm: OpenAICompatibleLLM, llm_server: FakeLLMServer
) -> None:
    llm_server.enqueue(*(Answer(status=500) for _ in range(3)))
    with pytest.raises(LLMUnavailable):
        await collect(llm.stream(HELLO))  # type: ignore[arg-type]
    llm_server.enqueue(Answer(status=400))
    with pytest.raises(LLMError, match="HTTP 400"):
        await collect(llm.stream(HELLO))  # type: ignore[arg-type]


async def test_a_stream_cut_after_the_first_token_is_not_retried(
    llm: OpenAICompatibleLLM, llm_server: FakeLLMServer
) -> None:
    llm_server.enqueue(Answer(text="one two three four", disconnect_after=2), "never sent")
    with pytest.raises(LLMUnavailable, match="interrupted"):
        await collect(llm.stream(HELLO))  # type: ignore[arg-type]
    assert len(llm_server.requests) == 1


async def test_leaving_a_stream_early_closes_the_response(
    llm: OpenAICompatibleLLM, llm_server: FakeLLMServer
) -> None:
    llm_server.enqueue(Answer(text="word " * 500, token_delay=0.005))
    stream = llm.stream(HELLO)  # type: ignore[arg-type]
    async for event in stream:
        if isinstance(event, ContentDelta):
            break
    await stream.aclose()  # type: ignore[attr-defined]
    await llm_server.wait_until(lambda: llm_server.aborted == 1 and llm_server.running == 0)


async def test_structured_validates_and_repairs_once(
    llm: OpenAICompatibleLLM, llm_server: FakeLLMServer
) -> None:
    llm_server.enqueue(Answer(text='{"score": "high"}'), Answer(json={"score": 4, "reason": "ok"}))
    result = await llm.structured(HELLO, Verdict)  # type: ignore[arg-type]
    assert result.value == Verdict(score=4, reason="ok") and result.repaired
    first = llm_server.requests[0]
    assert first["response_format"]["json_schema"]["schema"] == Verdict.model_json_schema()
    assert first["temperature"] == 0


async def test_structured_failure_after_repair_is_a_typed_error_with_the_raw_output(
    llm: OpenAICompatibleLLM, llm_server: FakeLLMServer
) -> None:
    llm_server.enqueue(Answer(text="not json"), Answer(text="still not json"))
    with pytest.raises(LLMBadOutput) as failure:
        await llm.structured(HELLO, Verdict)  # type: ignore[arg-type]
    assert failure.value.raw_output == "still not json"


async def test_the_model_is_read_from_v1_models_once(
    llm: OpenAICompatibleLLM, llm_server: FakeLLMServer
) -> None:
    assert await llm.model_name() == "fake-model"
    llm_server.enqueue("a")
    await collect(llm.stream(HELLO))  # type: ignore[arg-type]
    assert llm_server.requests[-1]["model"] == "fake-model"


async def test_a_stream_request_carries_the_key_the_session_and_the_whole_request(
    llm_server: FakeLLMServer,
) -> None:
    client = OpenAICompatibleLLM(llm_server.base_url, api_key="sk-secret-7", model="fake-model")
    try:
        llm_server.enqueue("Hello, 你好.")
        messages = [{"role": "system", "content": "Be brief."}, *HELLO]
        events = await collect(
            client.stream(messages, temperature=0.2, max_tokens=64, session_id="c-9")  # type: ignore[arg-type]
        )
    finally:
        await client.close()
    assert "".join(e.text for e in events if isinstance(e, ContentDelta)) == "Hello, 你好."
    sent = llm_server.requests[-1]
    assert sent["_headers"]["authorization"] == "Bearer sk-secret-7"
    assert sent["_headers"]["x-session-id"] == "c-9"
    assert sent["messages"] == messages and sent["stream"] is True
    assert (sent["temperature"], sent["max_tokens"]) == (0.2, 64)
    assert sent["stream_options"] == {"include_usage": True}


async def test_a_refusal_names_the_status_never_the_key(llm_server: FakeLLMServer) -> None:
    client = OpenAICompatibleLLM(llm_server.base_url, api_key="sk-secret-7", model="fake-model")
    try:
        llm_server.enqueue(Answer(status=401))
        with pytest.raises(LLMError) as refused:
            await collect(client.stream(HELLO))  # type: ignore[arg-type]
    finally:
        await client.close()
    assert "HTTP 401" in str(refused.value)
    assert "sk-secret-7" not in str(refused.value) and len(llm_server.requests) == 1


async def test_no_server_listening_is_retried_then_unavailable() -> None:
    client = OpenAICompatibleLLM(
        f"http://127.0.0.1:{free_port()}/v1", model="m", max_retries=2, backoff_s=0.01
    )
    try:
        with pytest.raises(LLMUnavailable, match="after 3 attempts"):
            await collect(client.stream(HELLO))  # type: ignore[arg-type]
    finally:
        await client.close()


class ForwardProxy:
    """An HTTP forward proxy that answers every request itself (the model list, or a one-word
    stream), and records the absolute URL each stream was asked of."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def __aenter__(self) -> str:
        async def answer(request: web.Request) -> web.StreamResponse:
            if request.method == "GET":  # the window, from the model list
                return web.json_response({"data": [{"id": "m", "max_model_len": 8192}]})
            self.asked.append(str(request.url))
            response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
            await response.prepare(request)
            chunk = {"choices": [{"index": 0, "delta": {"content": "proxied"}}]}
            await response.write(f"data: {json.dumps(chunk)}\n\n".encode())
            await response.write(b"data: [DONE]\n\n")
            return response

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", answer)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        port = free_port()
        await web.TCPSite(self._runner, "127.0.0.1", port).start()
        return f"http://127.0.0.1:{port}"

    async def __aexit__(self, *exc: object) -> None:
        await self._runner.cleanup()


async def test_a_stream_goes_through_the_proxy_the_environment_names(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    target = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens: only the proxy answers
    proxy = ForwardProxy()
    async with proxy as proxy_url:
        for name in ("NO_PROXY", "no_proxy"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("HTTP_PROXY", proxy_url)
        client = OpenAICompatibleLLM(target, model="m", max_retries=0)
        try:
            events = [await collect(client.stream(HELLO)) for _ in range(2)]  # type: ignore[arg-type]
        finally:
            await client.close()
    texts = ["".join(e.text for e in turn if isinstance(e, ContentDelta)) for turn in events]
    assert texts == ["proxied", "proxied"]
    assert proxy.asked == [f"{target}/chat/completions"] * 2


async def test_no_proxy_sends_the_stream_straight_to_the_server(
    llm_server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    proxy = ForwardProxy()
    async with proxy as proxy_url:
        monkeypatch.setenv("HTTP_PROXY", proxy_url)
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        client = OpenAICompatibleLLM(llm_server.base_url, model="fake-model", max_retries=0)
        try:
            llm_server.enqueue("direct")
            events = await collect(client.stream(HELLO))  # type: ignore[arg-type]
        finally:
            await client.close()
    assert "".join(e.text for e in events if isinstance(e, ContentDelta)) == "direct"
    assert proxy.asked == [] and len(llm_server.requests) == 1
