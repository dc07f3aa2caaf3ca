"""Engine benchmark: concurrent conversations through the real engine, store and LLM
client, against the scripted server with a fixed time to first token and token rate."""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from bot.domain import (
    ConversationKey,
    FlowStart,
    Incoming,
    Output,
    Platform,
    TextDelta,
    TextDone,
    UserRef,
)
from tests.bench.report import percentile
from tests.fakes.llm_server import Answer, FakeLLMServer, split_tokens
from tests.harness import harness


@dataclass
class Timings:
    submitted: dict[str, float] = field(default_factory=dict)
    first_text: dict[str, float] = field(default_factory=dict)
    replies: dict[str, list[str]] = field(default_factory=dict)


def reply_for(body: dict[str, object], ttft: float, token_delay: float) -> Answer:
    messages = body["messages"]
    assert isinstance(messages, list)
    last = str(messages[-1]["content"])
    return Answer(
        text=f"answer to {last} " + "lorem ipsum " * 20, ttft=ttft, token_delay=token_delay
    )


async def run_engine_bench(
    conversations: int, turns: int, ttft: float, tokens_per_s: float, db_url: str | None = None
) -> dict[str, float]:
    token_delay = 1.0 / tokens_per_s
    timings = Timings()
    current: dict[ConversationKey, str] = {}

    async def renderer(key: ConversationKey, outputs: AsyncIterator[Output]) -> None:
        tag = current[key]
        async for output in outputs:
            if isinstance(output, TextDelta) and tag not in timings.first_text:
                timings.first_text[tag] = time.perf_counter()
            elif isinstance(output, TextDone):
                timings.replies.setdefault(key.user_id, []).append(output.text)

    with tempfile.TemporaryDirectory() as tmp:
        url = db_url or f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        async with FakeLLMServer() as llm, harness(llm.base_url, url) as bot:
            llm.default = lambda body: reply_for(body, ttft, token_delay)
            bot.engine.attach(Platform.CONSOLE, renderer)

            async def user(n: int) -> None:
                who = UserRef(Platform.CONSOLE, f"user{n}")
                key = ConversationKey.user_in_chat(Platform.CONSOLE, "bench", who.platform_user_id)
                for turn in range(turns):
                    tag = f"u{n}-t{turn}"
                    current[key] = tag
                    timings.submitted[tag] = time.perf_counter()
                    receipt = await bot.engine.submit(
                        Incoming(key, who, text=tag, event_id=tag, start=FlowStart("support"))
                    )
                    await receipt.wait()

            started = time.perf_counter()
            await asyncio.gather(*(user(n) for n in range(conversations)))
            elapsed = time.perf_counter() - started
    overheads = [
        (timings.first_text[tag] - timings.submitted[tag] - ttft) * 1000
        for tag in timings.submitted
        if tag in timings.first_text
    ]
    lost = duplicated = 0
    for n in range(conversations):
        got = timings.replies.get(f"user{n}", [])
        expected = [f"answer to u{n}-t{t}" for t in range(turns)]
        answered = [r.split(" lorem")[0] for r in got]
        lost += sum(1 for e in expected if e not in answered)
        duplicated += len(answered) - len(set(answered))
    tokens = len(split_tokens("lorem ipsum " * 20)) + 3
    return {
        "conversations": conversations,
        "turns": conversations * turns,
        "overhead_ttft_p50_ms": percentile(overheads, 50),
        "overhead_ttft_p99_ms": percentile(overheads, 99),
        "turns_per_s": conversations * turns / elapsed,
        "tokens_per_turn": tokens,
        "lost": lost,
        "duplicated": duplicated,
    }
