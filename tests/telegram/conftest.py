from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web

from adapters.telegram import RenderTiming, TelegramAdapter
from adapters.telegram.delivery import RetryPolicy
from bot.config import Settings
from tests.fakes.scripted_engine import ScriptedEngine
from tests.fakes.serving import serve_local
from tests.fakes.telegram import FakeTelegram

FAST_TIMING = RenderTiming(edit_interval_s=1.0, draft_interval_s=0.1, typing_interval_s=0.3)
FAST_RETRIES = RetryPolicy(backoff_s=0.05)


def settings_for(tg: FakeTelegram, **overrides: Any) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        telegram_token=tg.token,  # type: ignore[arg-type]
        telegram_base_url=tg.base_url,
        **overrides,
    )


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as fake:
        yield fake


@pytest.fixture
async def engine() -> AsyncIterator[ScriptedEngine]:
    scripted = ScriptedEngine()
    yield scripted
    await scripted.close()


@pytest.fixture
async def adapter(tg: FakeTelegram, engine: ScriptedEngine) -> AsyncIterator[TelegramAdapter]:
    """A polling adapter over the fake."""
    polling = TelegramAdapter(
        settings_for(tg), engine, poll_timeout_s=5, timing=FAST_TIMING, policy=FAST_RETRIES
    )
    await polling.start()
    yield polling
    await polling.stop()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


ServeRoutes = Callable[[list[web.RouteDef], int], Awaitable[None]]


@pytest.fixture
async def serve_routes() -> AsyncIterator[ServeRoutes]:
    """Serve aiohttp routes on 127.0.0.1:port, as the bot's HTTP server would."""
    runners: list[web.AppRunner] = []

    async def serve(routes: list[web.RouteDef], port: int) -> None:
        app = web.Application()
        app.add_routes(routes)
        runner = await serve_local(app, port)
        runners.append(runner)

    yield serve
    for runner in runners:
        await runner.cleanup()
