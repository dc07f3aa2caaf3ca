"""The fake LLM server, checked with the real openai client over HTTP."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam

from tests.fakes.llm_server import Answer, FakeLLMServer, echo_last_user_message

MODEL = "fake-model"
HELLO: list[ChatCompletionMessageParam] = [{"role": "user", "content": "hello there"}]


@pytest.fixture
async def server() -> AsyncIterator[FakeLLMServer]:
    async with FakeLLMServer(MODEL) as fake:
        yield fake


@pytest.fixture
async def client(server: FakeLLMServer) -> AsyncIterator[openai.AsyncOpenAI]:
    llm = openai.AsyncOpenAI(base_url=server.base_url, api_key="EMPTY", max_retries=0)
    yield llm
    await llm.close()


def delta_extra(chunk: Any, name: str) -> str | None:
    """Read a delta field the openai types may not declare (reasoning, reasoning_content)."""
    delta = chunk.choices[0].delta
    extra = delta.model_extra or {}
    value = extra.get(name, getattr(delta, name, None))
    return value if isinstance(value, str) else None


async def test_streams_text_in_many_deltas_then_usage_with_cached_tokens(
    server: FakeLLMServer, client: openai.AsyncOpenAI
) -> None:
    text = "The quick brown fox jumps over the lazy dog."
    server.enqueue(Answer(text=text, prompt_tokens=12, cached_tokens=8))
    stream = await client.chat.completions.create(
        model=MODEL, messages=HELLO, stream=True, stream_options={"include_usage": True}
    )
    contents: list[str] = []
    finish_reasons: list[str] = []
    usage = None
    async for chunk in stream:
        if chunk.usage is not None:
            assert chunk.choices == []
            usage = chunk.usage
            continue
        choice = chunk.choices[0]
        if choice.delta.content:
            contents.append(choice.delta.content)
        if choice.finish_reason:
            finish_reasons.append(choice.finish_reason)

    assert "".join(contents) == text
    assert len(contents) == 9
    assert finish_reasons == ["stop"]
    assert usage is not None
    assert usage.prompt_tokens == 12
    assert usage.completion_tokens == 9
    assert usage.total_tokens == 21
    assert usage.prompt_tokens_details is not None
    assert usage.prompt_tokens_details.cached_tokens == 8
    assert server.running == 0
    assert server.aborted == 0


async def test_no_usage_chunk_without_include_usage(
    server: FakeLLMServer, client: openai.AsyncOpenAI
) -> None:
    server.enqueue("short answer")
    stream = await client.chat.completions.create(model=MODEL, messages=HELLO, stream=True)
    chunks = [chunk async for chunk in stream]
    assert all(chunk.usage is None and chunk.choices for chunk in chunks)


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
async def test_reasoning_arrives_before_and_apart_from_content(
    server: FakeLLMServer, client: openai.AsyncOpenAI, field: str
) -> None:
    server.enqueue(
        Answer(text="Final answer.", reasoning="Let me think it over.", reasoning_field=field)
    )
    stream = await client.chat.completions.create(model=MODEL, messages=HELLO, stream=True)
    order: list[tuple[str, str]] = []
    async for chunk in stream:
        if not chunk.choices:
            continue
        if (thought := delta_extra(chunk, field)) is not None:
            order.append(("reasoning", thought))
        if chunk.choices[0].delta.content:
            order.append(("content", chunk.choices[0].delta.content))

    kinds = [kind for kind, _ in order]
    assert kinds == sorted(kinds, reverse=True)  # every reasoning delta precedes content
    assert "".join(t for k, t in order if k == "reasoning") == "Let me think it over."
    assert "".join(t for k, t in order if k == "content") == "Final answer."


async def test_non_streaming_reply_carries_content_reasoning_and_usage(
    server: FakeLLMServer, client: openai.AsyncOpenAI
) -> None:
    server.enqueue(Answer(text="four words right here", reasoning="hmm", finish_reason="length"))
    reply = await client.chat.completions.create(model=MODEL, messages=HELLO)
    message = reply.choices[0].message
    assert message.content == "four words right here"
    assert (message.model_extra or {}).get("reasoning_content") == "hmm"
    assert reply.choices[0].finish_reason == "length"
    assert reply.usage is not None
    # the fake's tokenizer: 4 per message + ceil(11 chars of "hello there" / 4) + 3 to answer
    assert reply.usage.prompt_tokens == 4 + 3 + 3
    assert reply.usage.completion_tokens == 5


async def test_json_answer_for_a_json_schema_request(
    server: FakeLLMServer, client: openai.AsyncOpenAI
) -> None:
    verdict = {"score": 4, "summary": "solid answer"}
    server.enqueue(Answer(json=verdict))
    schema = {
        "type": "object",
        "properties": {"score": {"type": "integer"}, "summary": {"type": "string"}},
        "required": ["score", "summary"],
    }
    response_format: Any = {
        "type": "json_schema",
        "json_schema": {"name": "verdict", "schema": schema},
    }
    reply = await client.chat.completions.create(
        model=MODEL, messages=HELLO, response_format=response_format
    )
    assert json.loads(reply.choices[0].message.content or "") == verdict
    assert server.requests[0]["response_format"]["json_schema"]["name"] == "verdict"


async def test_injected_429_carries_retry_after(
    server: FakeLLMServer, client: openai.AsyncOpenAI
) -> None:
    server.enqueue(Answer(status=429, retry_after=2), "after the limit")
    with pytest.raises(openai.RateLimitError) as caught:
        await client.chat.completions.create(model=MODEL, messages=HELLO, stream=True)
    assert caught.value.response.headers["retry-after"] == "2"
    reply = await client.chat.completions.create(model=MODEL, messages=HELLO)
    assert reply.choices[0].message.content == "after the limit"


async def test_injected_500_is_an_internal_server_error(
    server: FakeLLMServer, client: openai.AsyncOpenAI
) -> None:
    server.enqueue(Answer(status=500))
    with pytest.raises(openai.InternalServerError) as caught:
        await client.chat.completions.create(model=MODEL, messages=HELLO)
    assert caught.value.status_code == 500
    assert server.running == 0


async def test_empty_queue_without_default_is_a_clear_500(
    server: FakeLLMServer, client: openai.AsyncOpenAI
) -> None:
    with pytest.raises(openai.InternalServerError, match="no answer enqueued"):
        await client.chat.completions.create(model=MODEL, messages=HELLO)


async def test_default_answers_when_the_queue_is_empty(
    server: FakeLLMServer, client: openai.AsyncOpenAI
) -> None:
    server.default = echo_last_user_message
    reply = await client.chat.completions.create(model=MODEL, messages=HELLO)
    assert reply.choices[0].message.content == "hello there"


async def test_unknown_model_is_404(server: FakeLLMServer, client: openai.AsyncOpenAI) -> None:
    server.enqueue("never served")
    with pytest.raises(openai.NotFoundError):
        await client.chat.completions.create(model="other", messages=HELLO)
    assert server.pending == 1


async def test_ttft_delays_the_first_chunk(
    server: FakeLLMServer, client: openai.AsyncOpenAI
) -> None:
    server.enqueue(Answer(text="late reply", ttft=0.3))
    started = time.monotonic()
    stream = await client.chat.completions.create(model=MODEL, messages=HELLO, stream=True)
    async for _chunk in stream:
        first_chunk_after = time.monotonic() - started
        break
    await stream.close()
    assert first_chunk_after >= 0.3


async def test_disconnect_after_breaks_the_stream_on_the_client(
    server: FakeLLMServer, client: openai.AsyncOpenAI
) -> None:
    server.enqueue(Answer(text="one two three four five six", disconnect_after=2))
    stream = await client.chat.completions.create(model=MODEL, messages=HELLO, stream=True)
    contents: list[str] = []
    with pytest.raises((httpx.HTTPError, openai.APIError)):
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                contents.append(chunk.choices[0].delta.content)
    await stream.close()
    assert "".join(contents) == "one two"
    await server.wait_until(lambda: server.running == 0)


async def test_disconnect_after_without_streaming_fails_the_request(
    server: FakeLLMServer, client: openai.AsyncOpenAI
) -> None:
    server.enqueue(Answer(text="never arrives", disconnect_after=0))
    with pytest.raises(openai.APIConnectionError):
        await client.chat.completions.create(model=MODEL, messages=HELLO)


async def test_closing_the_stream_early_counts_as_aborted(
    server: FakeLLMServer, client: openai.AsyncOpenAI
) -> None:
    server.enqueue(Answer(text="word " * 500, token_delay=0.005))
    stream = await client.chat.completions.create(model=MODEL, messages=HELLO, stream=True)
    seen = 0
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            seen += 1
        if seen == 3:
            break
    assert server.running == 1
    await stream.close()
    await server.wait_until(lambda: server.aborted == 1 and server.running == 0)


async def test_models_health_and_metrics(server: FakeLLMServer, client: openai.AsyncOpenAI) -> None:
    models = await client.models.list()
    assert [model.id for model in models.data] == [MODEL]

    root = server.base_url.removesuffix("/v1")
    async with httpx.AsyncClient(base_url=root) as http:
        assert (await http.get("/health")).status_code == 200
        server.enqueue("counted")
        await client.chat.completions.create(model=MODEL, messages=HELLO)
        metrics = (await http.get("/metrics")).text
        assert f'vllm:num_requests_running{{model_name="{MODEL}"}} 0' in metrics
        assert f'vllm:request_success_total{{model_name="{MODEL}"}} 1' in metrics

        server.healthy = False
        assert (await http.get("/health")).status_code == 503
    with pytest.raises(openai.InternalServerError) as caught:
        await client.chat.completions.create(model=MODEL, messages=HELLO)
    assert caught.value.status_code == 503


async def test_requests_history_keeps_body_and_headers(
    server: FakeLLMServer, client: openai.AsyncOpenAI
) -> None:
    server.enqueue("first", "second")
    await client.chat.completions.create(
        model=MODEL, messages=HELLO, temperature=0.2, extra_headers={"X-Session-ID": "s-42"}
    )
    stream = await client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "again"}], stream=True
    )
    assert (
        "".join([c.choices[0].delta.content or "" async for c in stream if c.choices]) == "second"
    )
    assert len(server.requests) == 2
    first, second = server.requests
    assert first["messages"] == HELLO
    assert first["temperature"] == 0.2
    assert first["_headers"]["x-session-id"] == "s-42"
    assert first["_headers"]["authorization"] == "Bearer EMPTY"
    assert second["stream"] is True
    assert "x-session-id" not in second["_headers"]
