"""`chatbot run` with the Telegram adapter (long polling) against the fake Bot API."""

from __future__ import annotations

from pathlib import Path

from tests.bot_process import REPO
from tests.bot_process import BotProcess as _BotProcess
from tests.fakes.llm_server import FakeLLMServer
from tests.fakes.telegram import FakeTelegram

__all__ = ["REPO", "BotProcess"]


class BotProcess(_BotProcess):
    def __init__(
        self, tg: FakeTelegram, llm: FakeLLMServer, db_url: str, workdir: Path, **env: str
    ) -> None:
        super().__init__(llm, db_url, workdir, **env)
        self.tg = tg

    def platform_env(self) -> dict[str, str]:
        return {"BOT_TELEGRAM_TOKEN": self.tg.token, "BOT_TELEGRAM_BASE_URL": self.tg.base_url}

    async def start(self, crash_at: str | None = None) -> None:
        """Start the bot and wait until it says it polls the Bot API (or exits)."""
        started = await self.spawn(crash_at)
        await self.tg.wait_for(
            lambda: "telegram: long polling as" in self.log(started) or self.exited(),
            timeout=60,
        )
