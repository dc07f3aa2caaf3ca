"""`python -m tests.bench scale`: the engine in worker processes of its own, the model in
another (tests.bench.model_process), on SQLite or PostgreSQL. Figures, not assertions:

- arrival -> first model request p50/p99: from `engine.submit` to the model server
  receiving the request (wall clocks of one machine); with every conversation sending at
  once (the default) this is mostly the wait behind the others of the burst; with
  `--think-s` people pause between messages and it is the path of one message under load;
- last token -> platform: from the model's last byte to the renderer getting TextDone;
- CPU per streamed token and per model request: the workers' own CPU time (getrusage),
  divided; the model process is not counted;
- peak connections: pg_stat_activity sampled every 20 ms, the bot's application_name;
- memory per idle conversation: a worker's RSS growth over the run / its conversations.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import text

from bot.store import connect
from bot.store.sql import SqlStore
from tests.bench.model_process import model_process
from tests.bench.report import percentile

WORKER_LINE_LIMIT = 64 * 1024 * 1024
PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


@dataclass(frozen=True)
class ScaleRun:
    database: str = "sqlite"  # or "postgres"
    conversations: int = 200
    turns: int = 2
    workers: int = 1
    words: int = 20
    ttft: float = 0.2
    tokens_per_s: float = 100.0
    pool_size: int = 10
    max_concurrency: int = 1000
    think_s: float = 0.0  # mean pause before each message; 0: every conversation at once


@asynccontextmanager
async def database(kind: str) -> AsyncIterator[tuple[str, str | None]]:
    """A fresh, migrated database: a temporary SQLite file or a PostgreSQL schema."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
            store = SqlStore(url)
            await store.upgrade()
            await store.close()
            yield url, None
        return
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    store = SqlStore(PG_URL, schema=schema)
    await store.upgrade()
    await store.close()
    try:
        yield PG_URL, schema
    finally:
        admin = connect.create_engine(connect.parse_url(PG_URL), None)
        async with admin.begin() as connection:
            await connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await admin.dispose()


class ConnectionSampler:
    """The most connections the bot's processes held at once, from pg_stat_activity."""

    def __init__(self, schema: str | None) -> None:
        self.prefix = connect.application_prefix(schema)
        self.peak_total = 0
        self.peak_per_process = 0
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> ConnectionSampler:
        self._task = asyncio.create_task(self._sample())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)

    async def _sample(self) -> None:
        engine = connect.create_engine(connect.parse_url(PG_URL), None)
        query = text(
            "SELECT application_name, count(*) FROM pg_stat_activity "
            "WHERE application_name LIKE :prefix GROUP BY application_name"
        )
        try:
            async with engine.connect() as connection:
                while True:
                    rows = (await connection.execute(query, {"prefix": self.prefix + "%"})).all()
                    await connection.rollback()
                    counts = [int(n) for _, n in rows]
                    self.peak_total = max(self.peak_total, sum(counts))
                    self.peak_per_process = max([self.peak_per_process, *counts])
                    await asyncio.sleep(0.02)
        finally:
            await engine.dispose()


async def start_worker(spec: dict[str, Any]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.bench.scale_worker",
        json.dumps(spec),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        # the figures are one JSON line with every conversation's timings: at 1,000
        # conversations far over asyncio's default 64 KiB line limit
        limit=WORKER_LINE_LIMIT,
    )


async def worker_result(process: asyncio.subprocess.Process) -> dict[str, Any]:
    assert process.stdout is not None
    last = b""
    async for line in process.stdout:
        last = line
    if await process.wait() != 0:
        raise RuntimeError(f"worker {process.pid} exited with {process.returncode}")
    result: dict[str, Any] = json.loads(last)
    return result


async def model_stats(llm_url: str) -> dict[str, Any]:
    url = llm_url.removesuffix("/v1") + "/metrics?bench=1"
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        stats: dict[str, Any] = await response.json()
        return stats


def machine_speed_ms() -> float:
    """CPU milliseconds of a fixed pure-Python loop: on a shared or throttled machine the
    CPU figures grow with it, so runs compare by it."""
    started = time.process_time()
    total = 0
    for n in range(2_000_000):
        total += n
    return (time.process_time() - started) * 1000


async def run_scale(run: ScaleRun) -> dict[str, float]:
    speed = machine_speed_ms()
    with model_process(run.words, run.ttft, run.tokens_per_s) as llm_url:
        async with database(run.database) as (db_url, schema):
            sampler = ConnectionSampler(schema) if run.database == "postgres" else None
            specs = [
                {
                    "mode": "turns",
                    "db_url": db_url,
                    "schema": schema,
                    "llm_url": llm_url,
                    "pool_size": run.pool_size,
                    "max_concurrency": run.max_concurrency,
                    "turns": run.turns,
                    "think_s": run.think_s,
                    "conversations": list(range(w, run.conversations, run.workers)),
                }
                for w in range(run.workers)
            ]
            if sampler is not None:
                await sampler.__aenter__()
            try:
                processes = [await start_worker(spec) for spec in specs]
                results = await asyncio.gather(*(worker_result(p) for p in processes))
            finally:
                if sampler is not None:
                    await sampler.__aexit__()
            stats = await model_stats(llm_url)
    return {**figures(run, results, stats, sampler), "machine_speed_ms": speed}


def cpu_split(short: dict[str, float], long: dict[str, float]) -> dict[str, float]:
    """Two runs that differ only in the answers' length: the extra CPU over the extra tokens
    is the cost of one streamed token; what remains of a request is its cost before and
    after the tokens (the store, the prompt, the request, the delivery). The per-token
    figures of a single run divide everything by the tokens, the per-request part included."""
    requests = short["turns"]
    per_token = (long["cpu_s"] - short["cpu_s"]) / max(
        long["streamed_tokens"] - short["streamed_tokens"], 1
    )
    per_request = (short["cpu_s"] - per_token * short["streamed_tokens"]) / max(requests, 1)
    return {
        "cpu_us_per_streamed_token_marginal": per_token * 1e6,
        "cpu_ms_per_model_request_without_tokens": per_request * 1000,
    }


def figures(
    run: ScaleRun,
    results: list[dict[str, Any]],
    stats: dict[str, Any],
    sampler: ConnectionSampler | None,
) -> dict[str, float]:
    submitted = {tag: t for r in results for tag, t in r["submitted"].items()}
    done = {tag: ts for r in results for tag, ts in r["done"].items()}
    arrived: dict[str, float] = {}
    model_done: dict[str, float] = {}
    requests_per_tag: dict[str, int] = {}
    timed = [r for r in stats["requests"] if r["tag"] in submitted]  # not the memory probe's
    for request in timed:
        tag = request["tag"]
        requests_per_tag[tag] = requests_per_tag.get(tag, 0) + 1
        arrived.setdefault(tag, request["arrived"])
        model_done[tag] = request["done"]
    to_request = [(arrived[t] - submitted[t]) * 1000 for t in submitted if t in arrived]
    to_platform = [(done[t][0] - model_done[t]) * 1000 for t in done if t in model_done]
    expected = run.conversations * run.turns
    cpu_s = sum(r["cpu_s"] for r in results)
    deltas = sum(r["deltas"] for r in results)
    elapsed = max(r["finished"] for r in results) - min(r["started"] for r in results)
    rss_growth = sum(r["rss_growth"] for r in results)
    out: dict[str, float] = {
        "workers": run.workers,
        "conversations": run.conversations,
        "think_s": run.think_s,
        "turns": expected,
        "arrival_to_model_request_p50_ms": percentile(to_request, 50),
        "arrival_to_model_request_p99_ms": percentile(to_request, 99),
        "last_token_to_platform_p50_ms": percentile(to_platform, 50),
        "last_token_to_platform_p99_ms": percentile(to_platform, 99),
        # with think_s, the rate the conversations offered, not the most the workers can do
        "turns_per_s": len(done) / elapsed,
        "cpu_s": cpu_s,
        "streamed_tokens": deltas,
        "cpu_us_per_streamed_token": cpu_s / max(deltas, 1) * 1e6,
        "cpu_ms_per_model_request": cpu_s / max(len(timed), 1) * 1000,
        "memory_per_idle_conversation_kB": sum(r["retained_per_conversation"] for r in results)
        / len(results)
        / 1024,
        "rss_growth_per_conversation_kB": rss_growth / run.conversations / 1024,
        "lost": expected - len(done),
        "duplicated": sum(len(ts) - 1 for ts in done.values())
        + sum(n - 1 for n in requests_per_tag.values()),
        "max_turns_of_one_conversation_at_once": stats["max_overlap"],
    }
    if sampler is not None:
        out["peak_db_connections"] = sampler.peak_total
        out["peak_db_connections_per_process"] = sampler.peak_per_process
    return out
