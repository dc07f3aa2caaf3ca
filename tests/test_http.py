"""The bot's HTTP server: /healthz tells whether the database and the model are reachable."""

from __future__ import annotations

import aiohttp

from bot.http import HttpServer
from tests.fakes.llm_server import FakeLLMServer
from tests.harness import Harness


async def get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.text()


async def test_healthz_reports_llm_reachability(bot: Harness, llm_server: FakeLLMServer) -> None:
    server = HttpServer("127.0.0.1", 0, bot.store, bot.llm)
    await server.start()
    try:
        base = f"http://127.0.0.1:{server.port}"
        status, body = await get(f"{base}/healthz")
        assert status == 200 and '"llm": true' in body and '"database": true' in body
        status, body = await get(f"{base}/metrics")
        assert status == 200 and "chatbot_llm_up 1.0" in body and "chatbot_turns_total" in body
        await llm_server.stop()  # the model server goes away
        assert (await get(f"{base}/livez"))[0] == 200  # the process is still alive
        status, body = await get(f"{base}/healthz")
        assert status == 503 and '"llm": false' in body and '"database": true' in body
    finally:
        await server.stop()
