"""The fair queue in front of the model server, and the notice a waiting user gets."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from bot.domain import Message
from bot.llm.client import OpenAICompatibleLLM
from bot.llm.queue import FairQueue, QueuedLLM
from bot.retry import Backoff, FailureLog
from bot.texts import text
from tests.fakes.llm_server import Answer, FakeLLMServer
from tests.harness import harness


async def test_no_more_in_flight_than_the_limit_and_round_robin_by_conversation() -> None:
    queue = FairQueue(1, notice_after_s=60)
    served: list[str] = []
    gate = asyncio.Event()

    async def request(key: str, hold: bool = False) -> None:
        async with queue.slot(key):
            served.append(key)
            if hold:
                await gate.wait()

    first = asyncio.create_task(request("chatty", hold=True))
    await asyncio.sleep(0)
    # The chatty conversation queues five requests before two others ask once each.
    tasks = [asyncio.create_task(request("chatty")) for _ in range(5)]
    await asyncio.sleep(0)
    tasks += [asyncio.create_task(request("quiet-1")), asyncio.create_task(request("quiet-2"))]
    await asyncio.sleep(0)
    assert queue.waiting == 7
    gate.set()
    await asyncio.gather(first, *tasks)
    assert served[:4] == ["chatty", "chatty", "quiet-1", "quiet-2"]
    assert served.count("chatty") == 6
    assert queue.peak_in_flight == 1
    assert queue.in_flight == 0


async def test_position_counts_what_round_robin_serves_first() -> None:
    queue = FairQueue(1, notice_after_s=60)
    positions: dict[str, int] = {}
    gate = asyncio.Event()

    async def hold() -> None:
        async with queue.slot("busy"):
            await gate.wait()

    holder = asyncio.create_task(hold())
    await asyncio.sleep(0)
    waiters = [asyncio.create_task(_through(queue, k)) for k in ("a", "a", "a", "b")]
    await asyncio.sleep(0)
    for key, waiting in queue._waiting.items():
        for ticket in waiting:
            positions.setdefault(key, queue.position(key, ticket))
    # a's first, then b's only one: b is second although it asked last.
    assert positions == {"a": 1, "b": 2}
    gate.set()
    await asyncio.gather(holder, *waiters)


async def test_a_cancelled_waiter_gives_its_place_back() -> None:
    queue = FairQueue(1, notice_after_s=60)
    gate = asyncio.Event()

    async def hold() -> None:
        async with queue.slot("busy"):
            await gate.wait()

    holder = asyncio.create_task(hold())
    await asyncio.sleep(0)
    waiter = asyncio.create_task(_through(queue, "gone"))
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    gate.set()
    await holder
    assert (queue.in_flight, queue.waiting) == (0, 0)
    await _through(queue, "next")  # the slot is free: this does not wait


async def _through(queue: FairQueue, key: str) -> None:
    async with queue.slot(key):
        pass


async def test_a_user_who_waits_is_told_their_place_once_in_their_language(
    tmp_path: Path,
) -> None:
    async with FakeLLMServer() as server:
        client = OpenAICompatibleLLM(server.base_url, max_retries=0)
        queue = FairQueue(1, notice_after_s=0.05)
        slow = asyncio.Event()

        def answer(body: dict[str, object]) -> Answer:
            slow.set()
            return Answer(text="the answer", ttft=0.5)

        server.default = answer
        url = f"sqlite+aiosqlite:///{tmp_path}/bot.db"
        async with harness(server.base_url, url, llm=QueuedLLM(client, queue)) as bot:  # type: ignore[arg-type]
            queue.on_wait(bot.engine.queue_notice)
            first = await bot.engine.submit(bot.incoming("first question", event_id="e1"))
            await slow.wait()
            bot.user = bot.user.__class__(bot.user.platform, "bob", "Bob", "zh-CN")
            second = await bot.engine.submit(bot.incoming("second question", event_id="e2"))
            await first.wait()
            await second.wait()
        await client.close()
    notices = [o for key, outputs in bot.seen.turns for o in outputs if isinstance(o, Message)]
    told = [n.text for n in notices if n.text == text("llm_queue_position", "zh", position=1)]
    assert len(told) == 1
    assert bot.seen.texts().count("the answer") == 2
    assert queue.peak_in_flight == 1


def test_backoff_grows_with_jitter_up_to_its_cap() -> None:
    backoff = Backoff(base_s=1.0, cap_s=8.0)
    delays = [backoff.failed("c") for _ in range(8)]
    for failures, delay in enumerate(delays, start=1):
        step = min(8.0, 2.0 ** (failures - 1))
        assert step / 2 <= delay <= step
    assert backoff.wait_left("c") > 0
    backoff.succeeded("c")
    assert backoff.wait_left("c") == 0 and backoff.failures("c") == 0


def test_a_storm_of_failures_is_one_error(caplog: pytest.LogCaptureFixture) -> None:
    failures = FailureLog(logging.getLogger("test.storm"), interval_s=3600)
    with caplog.at_level(logging.DEBUG, "test.storm"):
        for n in range(500):
            try:
                raise RuntimeError(f"boom {n}")
            except RuntimeError:
                failures.failure("worker %s failed", n)
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert errors[0].exc_info is not None
