"""1,000 conversations on PostgreSQL, two worker processes sharing one schema, a pool of 10
each, the model in a third process: every message answered exactly once, no conversation
ever running two turns at once, never more connections than the pool allows.

Some conversations get a message in each worker at the same moment (both race to create
the conversation, then to take its lock), which is what a load balancer spreading Slack
events or Telegram webhooks over several `chatbot run` processes does."""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

import pytest
from sqlalchemy import text

from bot.store import connect
from tests.bench.model_process import model_process
from tests.bench.scale import PG_URL, ConnectionSampler, database, model_stats, start_worker

pytestmark = pytest.mark.postgres

CONVERSATIONS = int(os.environ.get("BOT_TEST_SCALE_CONVERSATIONS", "1000"))
POOL_SIZE = 10


def messages_of(worker: int) -> list[tuple[int, str]]:
    """Conversation n gets its first message in worker n % 2; every tenth also gets one
    in the other worker at the same time."""
    first = [(n, f"c{n}-first") for n in range(CONVERSATIONS) if n % 2 == worker]
    second = [(n, f"c{n}-second") for n in range(0, CONVERSATIONS, 10) if n % 2 != worker]
    return first + second


def inspector() -> Any:
    # No schema: its application_name is not the workers', so the sampler does not count it.
    return connect.create_engine(connect.parse_url(PG_URL), None)


async def unanswered(schema: str) -> tuple[int, int]:
    engine = inspector()
    try:
        async with engine.connect() as connection:
            row = (
                await connection.execute(
                    text(
                        "SELECT count(*), count(*) FILTER (WHERE status = 'pending') "
                        f"FROM \"{schema}\".messages WHERE role = 'user'"
                    )
                )
            ).one()
            return int(row[0]), int(row[1])
    finally:
        await engine.dispose()


async def rows(sql: str) -> list[Any]:
    engine = inspector()
    try:
        async with engine.connect() as connection:
            return list((await connection.execute(text(sql))).all())
    finally:
        await engine.dispose()


async def test_two_workers_answer_every_message_once_within_the_pool() -> None:
    expected = len(messages_of(0)) + len(messages_of(1))
    with model_process(words=5, ttft=0.0, tokens_per_s=2000.0) as llm_url:
        async with database("postgres") as (db_url, schema):
            assert schema is not None
            specs = [
                {
                    "mode": "cross",
                    "db_url": db_url,
                    "schema": schema,
                    "llm_url": llm_url,
                    "pool_size": POOL_SIZE,
                    "max_concurrency": 64,
                    "turns": 1,
                    "messages": messages_of(worker),
                }
                for worker in (0, 1)
            ]
            async with ConnectionSampler(schema) as sampler:
                workers = [await start_worker(spec) for spec in specs]
                for worker in workers:  # each says when all its messages are stored
                    assert worker.stdout is not None
                    await asyncio.wait_for(worker.stdout.readline(), 120)
                async with asyncio.timeout(600):  # generous: a shared machine is slow
                    while (counts := await unanswered(schema)) != (expected, 0):
                        assert counts[0] == expected  # every message was stored
                        await asyncio.sleep(0.5)
                results = []
                for worker in workers:
                    assert worker.stdin is not None and worker.stdout is not None
                    worker.stdin.close()
                    results.append(await asyncio.wait_for(worker.stdout.read(), 60))
                    assert await worker.wait() == 0
            stats = await model_stats(llm_url)
            replies = await rows(f"SELECT text FROM \"{schema}\".messages WHERE role = 'assistant'")
            active = await rows(
                f'SELECT key, count(*) FROM "{schema}".conversations '
                "WHERE status = 'active' GROUP BY key"
            )
    # Answered once: one stored reply, one model request and one delivery per message.
    tags = sorted(tag for worker in (0, 1) for _, tag in messages_of(worker))
    assert sorted(r[0].removeprefix("answer to ").split(" ")[0] for r in replies) == tags
    assert sorted(r["tag"] for r in stats["requests"]) == tags
    delivered = _delivered(results)
    assert sorted(delivered) == tags
    assert stats["max_overlap"] == 1  # never two turns of one conversation at once
    assert len(active) == CONVERSATIONS and all(n == 1 for _, n in active)
    assert 0 < sampler.peak_per_process <= POOL_SIZE
    assert sampler.peak_total <= 2 * POOL_SIZE


def _delivered(outputs: list[bytes]) -> list[str]:
    delivered: list[str] = []
    for output in outputs:
        figures = json.loads(output.decode().strip().splitlines()[-1])
        for tag, times in figures["done"].items():
            delivered += [tag] * len(times)
    return delivered
