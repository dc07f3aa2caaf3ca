"""End-to-end protocol checks against a real vLLM (CPU) serving SmolLM2-135M-Instruct.

The model answers badly; these tests check the protocol paths the bot relies on: streaming
with usage, prefix-cache accounting, structured output and aborting a stream.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from openai import AsyncOpenAI

from tests.vllm_server import VLLMServer, running_requests

pytestmark = pytest.mark.vllm

# vLLM's CPU backend caches prefixes in blocks of 128 tokens: a shared prefix shorter than
# one block is never reported as cached, so the shared system prompt is made long.
LONG_SYSTEM_PROMPT = "You are a patient interviewer. " + " ".join(
    f"Rule {number}: ask one short question at a time and stay kind." for number in range(40)
)


@pytest.fixture
def vllm_server(vllm: VLLMServer) -> VLLMServer:
    """The session's server (tests/conftest.py): started once for every vLLM test."""
    return vllm


@pytest.fixture
async def client(vllm_server: VLLMServer) -> AsyncIterator[AsyncOpenAI]:
    async with AsyncOpenAI(base_url=vllm_server.base_url, api_key="unused", max_retries=0) as c:
        yield c


async def wait_for_running(server: VLLMServer, expected: float) -> None:
    """Poll /metrics until the gauge shows `expected`; fail after 10 s."""
    async with asyncio.timeout(10):
        while True:
            if await running_requests(server.root_url) == expected:
                return
            await asyncio.sleep(0.05)  # a gauge: there is no event to wait on


async def test_streamed_chat_reports_usage(client: AsyncOpenAI, vllm_server: VLLMServer) -> None:
    stream = await client.chat.completions.create(
        model=vllm_server.model,
        messages=[{"role": "user", "content": "Say hello in one sentence."}],
        max_tokens=32,
        stream=True,
        stream_options={"include_usage": True},
    )
    pieces: list[str] = []
    usage = None
    async with stream:
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                pieces.append(chunk.choices[0].delta.content)
            if chunk.usage is not None:
                usage = chunk.usage
    assert "".join(pieces).strip()
    assert usage is not None
    assert usage.prompt_tokens > 0
    assert 0 < usage.completion_tokens <= 32
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens


async def test_shared_prefix_is_reported_as_cached(
    client: AsyncOpenAI, vllm_server: VLLMServer
) -> None:
    cached = []
    for question in ("What is a list in Python?", "What is a tuple in Python?"):
        response = await client.chat.completions.create(
            model=vllm_server.model,
            messages=[
                {"role": "system", "content": LONG_SYSTEM_PROMPT},
                {"role": "user", "content": question},
            ],
            max_tokens=4,
        )
        assert response.usage is not None
        assert response.usage.prompt_tokens > 256
        details = response.usage.prompt_tokens_details
        assert details is not None, "serve with --enable-prompt-tokens-details"
        cached.append(details.cached_tokens or 0)
    assert cached[1] > 0
    assert cached[1] % 128 == 0  # whole blocks only


async def test_json_schema_output_is_valid_json(
    client: AsyncOpenAI, vllm_server: VLLMServer
) -> None:
    schema = {
        "type": "object",
        "properties": {
            "verdict": {"type": "string", "enum": ["hire", "no_hire"]},
            "confident": {"type": "boolean"},
        },
        "required": ["verdict", "confident"],
        "additionalProperties": False,
    }
    response = await client.chat.completions.create(
        model=vllm_server.model,
        messages=[{"role": "user", "content": "The candidate answered well. Give a verdict."}],
        max_tokens=64,
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "evaluation", "schema": schema, "strict": True},
        },
    )
    content = response.choices[0].message.content
    assert content is not None
    evaluation = json.loads(content)
    assert set(evaluation) == {"verdict", "confident"}
    assert evaluation["verdict"] in {"hire", "no_hire"}
    assert isinstance(evaluation["confident"], bool)


async def test_closing_a_stream_early_aborts_the_request(
    client: AsyncOpenAI, vllm_server: VLLMServer
) -> None:
    await wait_for_running(vllm_server, 0)
    stream = await client.chat.completions.create(
        model=vllm_server.model,
        messages=[{"role": "user", "content": "Tell me a very long story."}],
        max_tokens=2000,
        stream=True,
        # Without ignore_eos the model could finish on its own and hide a missing abort.
        extra_body={"ignore_eos": True},
    )
    received = 0
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            received += 1
        if received == 3:
            break
    assert await running_requests(vllm_server.root_url) == 1
    await stream.close()
    await wait_for_running(vllm_server, 0)


def test_server_log_has_no_errors(vllm_server: VLLMServer) -> None:
    log = Path(vllm_server.log_path).read_text(errors="replace")
    assert "Traceback" not in log
    assert "enable_prefix_caching=True" in log
