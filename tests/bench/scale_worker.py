"""One bot worker process for the scale bench and the two-worker test: the real engine,
store, LLM client and fair queue, driven by a JSON spec (argv[1]); prints its figures as
one JSON line on stdout.

mode "turns": each of `conversations` talks `turns` times, one message after the other's
answer (the receipts say when); with `think_s` a conversation first waits a random time of
that mean (exponential, seeded by the conversation) before each message, as a person reads
and types, instead of every conversation sending at the same instant. mode "cross": one
message per entry of `messages` is submitted at once and the answers may be given by any worker sharing the database; the
worker runs until its stdin closes.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import random
import resource
import sys
import time
import tracemalloc
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from bot.app import default_flows
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
from bot.engine import Engine, EngineOptions
from bot.llm.client import OpenAICompatibleLLM
from bot.llm.queue import FairQueue, QueuedLLM
from bot.prompts import PromptLibrary
from bot.store.sql import SqlStore

PROMPTS = Path(__file__).resolve().parents[2] / "prompts"


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def key_of(n: int) -> tuple[UserRef, ConversationKey]:
    who = UserRef(Platform.CONSOLE, f"user{n}")
    return who, ConversationKey.user_in_chat(Platform.CONSOLE, "bench", who.platform_user_id)


class Observed:
    """The renderer: when each reply's first text and its end reached the 'platform'."""

    def __init__(self) -> None:
        self.current: dict[ConversationKey, str] = {}
        self.first_text: dict[str, float] = {}
        self.done: dict[str, list[float]] = {}
        self.deltas = 0

    async def __call__(self, key: ConversationKey, outputs: AsyncIterator[Output]) -> None:
        async for output in outputs:
            if isinstance(output, TextDelta):
                self.deltas += 1
                tag = self.current.get(key)
                if tag is not None and tag not in self.first_text:
                    self.first_text[tag] = time.time()
            elif isinstance(output, TextDone) and output.text.startswith("answer to "):
                tag = output.text.removeprefix("answer to ").split(" ", 1)[0]
                self.done.setdefault(tag, []).append(time.time())


async def run(spec: dict[str, Any]) -> dict[str, Any]:
    store = SqlStore(spec["db_url"], schema=spec.get("schema"), pool_size=spec["pool_size"])
    llm = OpenAICompatibleLLM(spec["llm_url"], max_retries=3, backoff_s=0.2, timeout_s=120)
    queue = FairQueue(spec["max_concurrency"])
    engine = Engine(
        store,
        QueuedLLM(llm, queue),
        PromptLibrary(PROMPTS),
        default_flows(),
        # The retry loop as in production: it leaves the other worker's fresh messages to it
        # (retry_grace_s), so a backlog is not taken across workers.
        EngineOptions(retry_interval_s=5.0),
    )
    queue.on_wait(engine.queue_notice)
    seen = Observed()
    engine.attach(Platform.CONSOLE, seen)
    await engine.start()
    submitted: dict[str, float] = {}
    gc.collect()
    rss_before, cpu_before, started = rss_bytes(), cpu_seconds(), time.time()

    async def submit(n: int, tag: str) -> asyncio.Future[None] | None:
        who, key = key_of(n)
        seen.current[key] = tag
        submitted[tag] = time.time()
        receipt = await engine.submit(
            Incoming(key, who, text=tag, event_id=tag, start=FlowStart("support"))
        )
        return receipt.done

    async def talk(n: int, think_s: float) -> None:
        pause = random.Random(n)
        for turn in range(spec["turns"]):
            if think_s > 0:
                await asyncio.sleep(pause.expovariate(1 / think_s))
            done = await submit(n, f"c{n}-t{turn}")
            if done is not None:
                await asyncio.wait_for(done, 300)

    if spec["mode"] == "turns":
        think_s = spec.get("think_s", 0.0)
        await asyncio.gather(*(talk(n, think_s) for n in spec["conversations"]))
        await engine.idle()
    else:
        await asyncio.gather(*(submit(n, tag) for n, tag in spec["messages"]))
        print(json.dumps({"submitted": len(submitted)}), flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        await engine.idle()
    finished, cpu_used = time.time(), cpu_seconds() - cpu_before
    gc.collect()
    rss_after = rss_bytes()
    timed = (dict(submitted), dict(seen.first_text), {k: list(v) for k, v in seen.done.items()})
    deltas = seen.deltas
    retained = await retained_per_conversation(spec, talk) if spec["mode"] == "turns" else 0.0
    await engine.stop()
    await llm.close()
    await store.close()
    return {
        "pid": os.getpid(),
        "started": started,
        "finished": finished,
        "cpu_s": cpu_used,
        "deltas": deltas,
        "rss_growth": rss_after - rss_before,
        "retained_per_conversation": retained,
        "submitted": timed[0],
        "first_text": timed[1],
        "done": timed[2],
        "queue_peak": queue.peak_in_flight,
    }


async def retained_per_conversation(
    spec: dict[str, Any], talk: Callable[[int, float], Awaitable[None]]
) -> float:
    """Python memory still held, per conversation, after some more conversations have
    talked and gone idle (tracemalloc: after the timed run, so its cost is not in it)."""
    first = 10_000_000 + 1000 * min(spec["conversations"])  # apart from every worker's
    probes = range(first, first + 50)
    tracemalloc.start()
    gc.collect()
    before = tracemalloc.get_traced_memory()[0]
    await asyncio.gather(*(talk(n, 0.0) for n in probes))
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return (after - before) / len(probes)


def main() -> None:
    spec = json.loads(sys.argv[1])
    figures = asyncio.run(run(spec))
    print(json.dumps(figures), flush=True)


if __name__ == "__main__":
    main()
