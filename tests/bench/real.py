"""Real mode: the same conversations through the bot and directly through the `openai`
client, side by side against a real vLLM (the local CPU one unless BOT_LLM_BASE_URL answers).

Both sides send the same prompt layout (the support flow's system prompt, then the history)
with the same turn texts, tagged per side so neither reuses the other's cached prefix
beyond the shared system prompt.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from openai import AsyncOpenAI

from bot.config import load_settings
from bot.domain import ConversationKey, FlowStart, Incoming, Output, Platform, TextDelta, UserRef
from bot.engine import EngineOptions
from bot.localmodel.launch import reachable
from bot.prompts import PromptLibrary
from bot.store.api import Role
from tests.bench.report import percentile
from tests.harness import PROMPTS, harness
from tests.vllm_server import VLLMServer

TURNS = [
    "My laptop cannot connect to the office VPN since this morning.",
    "I restarted it twice already. What else can I try?",
    "It says my certificate expired. How do I renew it?",
    "Thanks. Can I also get access to the shared finance drive?",
]
MAX_TOKENS = 64


@asynccontextmanager
async def model_server() -> AsyncIterator[str]:
    configured = load_settings().llm_base_url
    if reachable(configured):
        yield configured
        return
    with tempfile.TemporaryDirectory() as tmp:
        server = VLLMServer.from_environment(Path(tmp))
        if reason := server.unavailable_reason():
            raise SystemExit(f"no model server at {configured} and no local vLLM: {reason}")
        server.start()
        try:
            yield server.base_url
        finally:
            server.stop()


async def through_bot(base_url: str, conversations: int) -> dict[str, list[float]]:
    ttft: list[float] = []
    rates: list[float] = []
    cached: list[float] = []
    started: dict[str, float] = {}
    first: dict[str, float] = {}

    async def renderer(key: ConversationKey, outputs: AsyncIterator[Output]) -> None:
        async for output in outputs:
            if isinstance(output, TextDelta) and key.user_id not in first:
                first[key.user_id] = time.perf_counter()

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        options = EngineOptions(max_tokens=MAX_TOKENS, temperature=0.0)
        async with harness(base_url, url, options=options, timeout_s=120) as bot:
            bot.engine.attach(Platform.CONSOLE, renderer)
            for n in range(conversations):
                who = UserRef(Platform.CONSOLE, f"bot-{n}")
                key = ConversationKey.user_in_chat(Platform.CONSOLE, "bench", who.platform_user_id)
                for turn in TURNS:
                    first.pop(who.platform_user_id, None)
                    started[who.platform_user_id] = time.perf_counter()
                    incoming = Incoming(
                        key, who, text=f"[bot {n}] {turn}", start=FlowStart("support")
                    )
                    await (await bot.engine.submit(incoming)).wait()
                    ttft.append(first[who.platform_user_id] - started[who.platform_user_id])
                conversation = await bot.store.active_conversation(key)
                assert conversation is not None
                replies = [
                    m for m in await bot.store.history(conversation.id) if m.role is Role.ASSISTANT
                ]
                for index, reply in enumerate(replies):
                    generating = ((reply.latency_ms or 0) - (reply.ttft_ms or 0)) / 1000
                    if reply.completion_tokens and generating > 0:
                        rates.append(reply.completion_tokens / generating)
                    if index and reply.prompt_tokens:
                        cached.append((reply.cached_tokens or 0) / reply.prompt_tokens)
    return {"ttft": ttft, "rate": rates, "cached": cached}


async def direct(base_url: str, conversations: int) -> dict[str, list[float]]:
    system = PromptLibrary(PROMPTS).support.system.format(company="Acme")
    ttft: list[float] = []
    rates: list[float] = []
    cached: list[float] = []
    async with AsyncOpenAI(base_url=base_url, api_key="EMPTY") as client:
        model = (await client.models.list()).data[0].id
        for n in range(conversations):
            messages: list[dict[str, str]] = [{"role": "system", "content": system}]
            for index, turn in enumerate(TURNS):
                messages.append({"role": "user", "content": f"[direct {n}] {turn}"})
                began = time.perf_counter()
                first_at = None
                parts: list[str] = []
                usage = None
                stream = await client.chat.completions.create(
                    model=model,
                    messages=messages,  # type: ignore[arg-type]
                    stream=True,
                    stream_options={"include_usage": True},
                    max_tokens=MAX_TOKENS,
                    temperature=0.0,
                )
                async for chunk in stream:
                    usage = chunk.usage or usage
                    for choice in chunk.choices:
                        if choice.delta.content:
                            first_at = first_at or time.perf_counter()
                            parts.append(choice.delta.content)
                done = time.perf_counter()
                messages.append({"role": "assistant", "content": "".join(parts).strip()})
                if first_at is not None:
                    ttft.append(first_at - began)
                if usage is not None and first_at is not None and done > first_at:
                    rates.append(usage.completion_tokens / (done - first_at))
                details = getattr(usage, "prompt_tokens_details", None)
                if index and usage is not None and usage.prompt_tokens:
                    cached.append((getattr(details, "cached_tokens", 0) or 0) / usage.prompt_tokens)
    return {"ttft": ttft, "rate": rates, "cached": cached}


async def run_real_bench(conversations: int) -> dict[str, float]:
    async with model_server() as base_url:
        await direct(base_url, 1)  # warm-up: first requests compile kernels
        bot = await through_bot(base_url, conversations)
        plain = await direct(base_url, conversations)
    bot_ttft = percentile(bot["ttft"], 50) * 1000
    plain_ttft = percentile(plain["ttft"], 50) * 1000
    return {
        "turns_each_side": conversations * len(TURNS),
        "bot_ttft_p50_ms": bot_ttft,
        "bot_ttft_p99_ms": percentile(bot["ttft"], 99) * 1000,
        "direct_ttft_p50_ms": plain_ttft,
        "direct_ttft_p99_ms": percentile(plain["ttft"], 99) * 1000,
        "ttft_overhead_ratio": bot_ttft / plain_ttft if plain_ttft else float("nan"),
        "bot_tokens_per_s": statistics.fmean(bot["rate"]) if bot["rate"] else float("nan"),
        "direct_tokens_per_s": statistics.fmean(plain["rate"]) if plain["rate"] else float("nan"),
        "bot_cache_hit_after_turn_1": statistics.fmean(bot["cached"]) if bot["cached"] else 0.0,
        "direct_cache_hit_after_turn_1": (
            statistics.fmean(plain["cached"]) if plain["cached"] else 0.0
        ),
    }
