"""`chatbot run` as a separate process against the fakes, to be killed with SIGKILL.

The fakes (platform, LLM server) live in the test's event loop; the bot is a real process
with its own database, started and killed as an operator (or the OOM killer) would. Each
platform's subclass names its credentials and what "started" looks like.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from tests.fakes.llm_server import FakeLLMServer

REPO = Path(__file__).resolve().parents[1]


class BotProcess:
    def __init__(self, llm: FakeLLMServer, db_url: str, workdir: Path, **env: str) -> None:
        self.llm, self.db_url, self.workdir = llm, db_url, workdir
        self.extra_env = env
        self.process: asyncio.subprocess.Process | None = None
        self.starts = 0

    def platform_env(self) -> dict[str, str]:
        """The platform's BOT_* settings (the fake's tokens and URLs)."""
        raise NotImplementedError

    def env(self, crash_at: str | None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("BOT_")}
        env.update(
            self.platform_env(),
            BOT_LLM_BASE_URL=self.llm.base_url,
            BOT_DATABASE_URL=self.db_url,
            BOT_HTTP_PORT="0",
            BOT_LOG_LEVEL="INFO",
            PYTHONPATH=str(REPO),
        )
        env.update(self.extra_env)
        if crash_at:
            env["BOT_CRASH_AT"] = crash_at
        return env

    async def spawn(self, crash_at: str | None) -> int:
        """Start the process, its output in bot-<n>.log; returns n."""
        self.starts += 1
        log = (self.workdir / f"bot-{self.starts}.log").open("wb")
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "run",
            "--no-local-model",
            cwd=self.workdir,
            env=self.env(crash_at),
            stdout=log,
            stderr=log,
        )
        log.close()
        return self.starts

    def exited(self) -> bool:
        return self.process is None or self.process.returncode is not None

    async def killed(self) -> int:
        """Wait for the process to die at its crash point; its exit status."""
        assert self.process is not None
        async with asyncio.timeout(60):
            return await self.process.wait()

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(20):
                    await self.process.wait()
            except TimeoutError:
                self.process.kill()
                await self.process.wait()

    def log(self, start: int) -> str:
        return (self.workdir / f"bot-{start}.log").read_text(errors="replace")
