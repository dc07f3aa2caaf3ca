from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest
from aiohttp import web

from adapters.slack import SlackAdapter, StreamTiming
from bot.config import Settings
from tests.fakes.scripted_engine import ScriptedEngine
from tests.fakes.serving import local_port, serve_local
from tests.fakes.slack import FakeSlack
from tests.slack.scripted_engine import hello

T = TypeVar("T")
FAST = StreamTiming(append_interval_s=0.05, edit_interval_s=1.0)


def settings_for(slack: FakeSlack, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "slack_bot_token": slack.bot_token,
        "slack_signing_secret": slack.signing_secret,
        "slack_api_url": slack.api_url,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


async def until(predicate: Callable[[], T], timeout: float = 5.0) -> T:  # noqa: ASYNC109
    """Wait (polling) for a condition outside the fake, e.g. on the engine's records."""
    async with asyncio.timeout(timeout):
        while not (result := predicate()):  # noqa: ASYNC110 - the engine stand-in has no events
            await asyncio.sleep(0.01)
        return result


@dataclass
class Bot:
    slack: FakeSlack
    engine: ScriptedEngine
    adapter: SlackAdapter
    url: str  # where Slack posts events

    async def send(self, payload: dict[str, Any], **kwargs: Any) -> int:
        return await self.slack.send_event(self.url, payload, **kwargs)


async def start_bot(
    slack: FakeSlack, engine: ScriptedEngine, **settings: Any
) -> tuple[SlackAdapter, web.AppRunner, str]:
    adapter = SlackAdapter(settings_for(slack, **settings), engine, timing=FAST)
    await adapter.start()
    app = web.Application()
    app.add_routes(adapter.http_routes())
    runner = await serve_local(app)
    return adapter, runner, f"http://127.0.0.1:{local_port(runner)}/slack/events"


@pytest.fixture
def slack_options() -> dict[str, Any]:
    return {}


@pytest.fixture
def bot_settings() -> dict[str, Any]:
    """Settings overrides for the `bot` fixture (parametrize it to change them)."""
    return {}


@pytest.fixture
async def slack(slack_options: dict[str, Any]) -> AsyncIterator[FakeSlack]:
    async with FakeSlack(signing_secret="test-signing-secret", **slack_options) as fake:
        yield fake


@pytest.fixture
async def engine() -> AsyncIterator[ScriptedEngine]:
    scripted = ScriptedEngine(hello)
    yield scripted
    await scripted.close()


@pytest.fixture
async def bot(
    slack: FakeSlack, engine: ScriptedEngine, bot_settings: dict[str, Any]
) -> AsyncIterator[Bot]:
    adapter, runner, url = await start_bot(slack, engine, **bot_settings)
    try:
        yield Bot(slack, engine, adapter, url)
    finally:
        await engine.close()
        await runner.cleanup()
        await adapter.stop()
