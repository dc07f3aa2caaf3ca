"""Whole conversations through the bot against a real vLLM (CPU, SmolLM2-135M-Instruct).

The model answers badly; what is checked is every protocol path the bot relies on:
streaming with usage, structured output that validates, aborting a stream, the prefix
cache, and an outage with a real server stopped and started again.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.domain import InputKind, TextDelta
from bot.engine import EngineOptions
from bot.interview.evidence import is_verbatim
from bot.interview.report import EvaluationReport
from bot.llm.types import ContentDelta
from bot.store.api import ConversationStatus, Role
from bot.texts import text
from tests.fakes.recording_proxy import RecordingProxy
from tests.flows.test_interview import ANSWERS
from tests.harness import Harness, eventually, harness
from tests.vllm_server import VLLMServer, prompt_tokens, running_requests

pytestmark = pytest.mark.vllm

OPTIONS = EngineOptions(max_tokens=48, retry_interval_s=0.5)
FOLLOW_UPS = {
    text(key)
    for key in (
        "follow_up_technical",
        "follow_up_situational",
        "follow_up_star_situation",
        "follow_up_star_task",
        "follow_up_star_action",
        "follow_up_star_result",
    )
}


@pytest.fixture
async def proxied(vllm: VLLMServer, db_url: str) -> AsyncIterator[tuple[Harness, RecordingProxy]]:
    async with (
        RecordingProxy(vllm.root_url) as proxy,
        harness(proxy.base_url, db_url, options=OPTIONS, timeout_s=120) as bot,
    ):
        yield bot, proxy


async def test_support_conversation_streams_with_a_warm_prefix_cache(
    vllm: VLLMServer, proxied: tuple[Harness, RecordingProxy]
) -> None:
    bot, proxy = proxied
    questions = [
        "Hello, my laptop cannot connect to the office VPN since this morning.",
        "I already restarted it twice. What should I try next?",
        "It says my certificate expired. How do I renew it?",
    ]
    for n, question in enumerate(questions, 1):
        await bot.send(question)
        _, outputs = bot.seen.turns[-1]
        assert sum(isinstance(o, TextDelta) for o in outputs) > 1, f"turn {n} did not stream"
    conversation = await bot.store.active_conversation(bot.key)
    assert conversation is not None
    history = await bot.store.history(conversation.id)
    assert [m.role for m in history] == [Role.USER, Role.ASSISTANT] * 3
    assert all(m.text for m in history)

    # every turn's prompt begins with the previous turn's prompt, token for token
    prompts = [r["messages"] for r in proxy.requests]
    assert len(prompts) == 3
    tokens = [await prompt_tokens(vllm.root_url, vllm.model, p) for p in prompts]
    for earlier, later in itertools.pairwise(tokens):
        assert later[: len(earlier)] == earlier
    assert all(
        r["_headers"]["x-session-id"] == f"conversation-{conversation.id}" for r in proxy.requests
    )
    # and vLLM's prefix cache served it: stored usage shows cached tokens after turn 1
    usage = [
        (m.prompt_tokens or 0, m.completion_tokens or 0, m.cached_tokens or 0)
        for m in history
        if m.role is Role.ASSISTANT
    ]
    assert all(prompt > 0 and completion > 0 for prompt, completion, _ in usage)
    assert all(cached > 0 for _, _, cached in usage[1:]), usage


async def test_whole_interview_reaches_a_validated_evaluation(
    proxied: tuple[Harness, RecordingProxy],
) -> None:
    bot, proxy = proxied
    await bot.send(kind=InputKind.START, flow="interview", params={"role": "python-backend"})
    await bot.send("accept", kind=InputKind.ACTION, action_id="consent", flow="interview")
    answers = iter(ANSWERS)
    for _ in range(12):  # six answers, and at most one follow-up each
        last = bot.seen.texts()[-1]
        if last == text("interview_complete"):
            break
        reply = (
            "I would add detail: measure first, then fix it."
            if last in FOLLOW_UPS
            else next(answers)
        )
        await bot.send(reply, flow="interview")
    assert bot.seen.texts()[-1] == text("interview_complete")
    [conversation] = await bot.store.list_conversations(flow="interview")
    [evaluation] = await bot.store.evaluations_for(conversation.id)
    assert evaluation.status == "ok", evaluation.error
    assert conversation.status is ConversationStatus.FINISHED
    report = EvaluationReport.from_stored(evaluation.data)
    assert [q.id for q in report.questions] == [
        "async-io",
        "api-design",
        "slow-query",
        "transactions",
        "incident",
        "disagreement",
    ]
    assert all(q.score is not None and 1 <= q.score <= 5 for q in report.questions)
    assert report.recommendation in {"advance", "hold", "reject"}
    assert evaluation.model == "smollm2-135m-instruct"
    # whatever the tiny model claims, every credited point is verbatim in what was written
    written = [m.text for m in await bot.store.history(conversation.id) if m.role is Role.USER]
    for question in report.questions:
        assert all(is_verbatim(quote, written) for quote in question.evidence)
    structured = [r for r in proxy.requests if "response_format" in r]
    assert all(r["response_format"]["type"] == "json_schema" for r in structured)
    assert len([r for r in structured if r["temperature"] == 0]) == len(structured)
    assert len({r["messages"][0]["content"] for r in structured}) == 1  # one cached prefix


async def test_leaving_a_stream_early_aborts_the_request(vllm: VLLMServer, db_url: str) -> None:
    async with harness(vllm.base_url, db_url, timeout_s=120) as bot:
        stream = bot.llm.stream(
            [{"role": "user", "content": "Count from one to one thousand in words."}],
            max_tokens=2000,
        )
        assert isinstance(stream, AsyncIterator)
        seen = 0
        async for event in stream:
            seen += isinstance(event, ContentDelta)
            if seen == 3:
                break
        await stream.aclose()  # type: ignore[attr-defined]

        async def idle() -> bool:
            return await running_requests(vllm.root_url) == 0

        await eventually(idle, timeout_s=10)


async def test_an_outage_saves_the_message_and_answers_it_when_back(
    vllm: VLLMServer, db_url: str, tmp_path: Path
) -> None:
    async with harness(vllm.base_url, db_url, options=OPTIONS, timeout_s=120) as bot:
        await bot.send("Hi, where do I find the expense policy?")
        vllm.stop()
        receipt = await bot.engine.submit(bot.incoming("And who approves travel costs?"))
        await bot.seen.wait_for(lambda: text("llm_unavailable") in bot.seen.texts(), 30)
        assert not receipt.done.done()
        conversation = await bot.store.active_conversation(bot.key)
        assert conversation is not None
        [pending] = await bot.store.pending_messages(conversation.id)
        assert pending.text == "And who approves travel costs?"
        vllm.start()  # same port: the bot's URL does not change
        await asyncio.wait_for(receipt.wait(), 120)
        history = await bot.store.history(conversation.id)
        assert [m.text for m in history if m.role is Role.USER] == [
            "Hi, where do I find the expense policy?",
            "And who approves travel costs?",
        ]
        assert history[-1].role is Role.ASSISTANT and history[-1].text
        assert bot.seen.texts().count(text("llm_unavailable")) == 1
