"""Webhook mode: the fake pushes updates to the adapter's aiohttp route, secret checked."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from adapters.telegram import TelegramAdapter
from bot.errors import ConfigError
from tests.fakes.scripted_engine import ScriptedEngine
from tests.fakes.telegram import FakeTelegram
from tests.telegram.conftest import FAST_TIMING, ServeRoutes, free_port, settings_for

SECRET = "s3cret-token_for-tests"


@pytest.fixture
async def webhook(
    tg: FakeTelegram, engine: ScriptedEngine, serve_routes: ServeRoutes
) -> AsyncIterator[str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}/telegram/webhook"
    adapter = TelegramAdapter(
        settings_for(tg, telegram_webhook_url=url, telegram_webhook_secret=SECRET),
        engine,
        timing=FAST_TIMING,
    )
    await serve_routes(adapter.http_routes(), port)
    await adapter.start()
    yield url
    await adapter.stop()


async def test_updates_pushed_with_the_secret_are_processed(
    tg: FakeTelegram, engine: ScriptedEngine, webhook: str
) -> None:
    assert (tg.webhook_url, tg.webhook_secret) == (webhook, SECRET)
    assert not tg.calls_to("getUpdates")

    update_id = await tg.send_text(901, 901, "via webhook")
    await tg.wait_for(lambda: tg.bot_texts(901))

    assert tg.bot_texts(901) == ["echo: text via webhook"]
    assert tg.webhook_deliveries == [(update_id, 200)]


@pytest.mark.parametrize("secret", [None, "", "wrong", SECRET + "x"])
async def test_a_wrong_or_missing_secret_gets_403_and_changes_nothing(
    tg: FakeTelegram, engine: ScriptedEngine, webhook: str, secret: str | None
) -> None:
    update = {
        "update_id": 5,
        "message": {
            "message_id": 1,
            "date": 0,
            "text": "forged",
            "chat": {"id": 902, "type": "private"},
            "from": {"id": 902, "is_bot": False, "first_name": "Mallory"},
        },
    }
    headers = {} if secret is None else {"X-Telegram-Bot-Api-Secret-Token": secret}
    async with (
        aiohttp.ClientSession() as session,
        session.post(webhook, json=update, headers=headers) as response,
    ):
        assert response.status == 403

    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    update["update_id"] = 6
    async with (
        aiohttp.ClientSession() as session,
        session.post(webhook, json=update, headers=headers) as response,
    ):
        assert response.status == 200
    assert [i.event_id for i in engine.submitted] == ["6"]


async def test_webhook_mode_needs_a_secret(tg: FakeTelegram, engine: ScriptedEngine) -> None:
    settings = settings_for(tg, telegram_webhook_url="https://bot.example.com/telegram/webhook")
    with pytest.raises(ConfigError, match="BOT_TELEGRAM_WEBHOOK_SECRET"):
        TelegramAdapter(settings, engine)
