"""Start-up failures are one sentence naming the variable, never the secret, exit status 2,
and nothing is left running: `chatbot run` as a real process."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from tests.fakes.telegram import FakeTelegram
from tests.telegram.bot_process import REPO

WRONG_TOKEN = "999999:THIS-IS-THE-SECRET-TOKEN"
DB_PASSWORD = "hunter2-db-password"


async def run_bot(workdir: Path, **settings: str) -> tuple[int, list[str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOT_")}
    env.update(
        BOT_DATABASE_URL=f"sqlite+aiosqlite:///{workdir / 'bot.db'}",
        BOT_LLM_BASE_URL="http://127.0.0.1:9/v1",
        BOT_HTTP_PORT="0",
        PYTHONPATH=str(REPO),
    )
    env.update(settings)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", "--no-local-model",
        cwd=workdir, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    async with asyncio.timeout(90):
        output, _ = await process.communicate()
    return process.returncode or 0, output.decode(errors="replace").splitlines()


def the_failure(lines: list[str]) -> str:
    """The one line that reports the failure; no traceback anywhere."""
    assert not any("Traceback" in line for line in lines), "\n".join(lines)
    [failure] = [line for line in lines if line.startswith("chatbot: ")]
    return failure


async def test_a_token_the_bot_api_rejects(tg: FakeTelegram, tmp_path: Path) -> None:
    status, lines = await run_bot(
        tmp_path, BOT_TELEGRAM_TOKEN=WRONG_TOKEN, BOT_TELEGRAM_BASE_URL=tg.base_url
    )
    assert status == 2
    failure = the_failure(lines)
    assert failure.startswith("chatbot: BOT_TELEGRAM_TOKEN: ") and "rejected" in failure
    assert not any("SECRET-TOKEN" in line for line in lines)
    assert tg.calls_to("getMe") and not tg.calls_to("getUpdates")  # did not half-start


async def test_an_unreachable_bot_api(tmp_path: Path) -> None:
    status, lines = await run_bot(
        tmp_path, BOT_TELEGRAM_TOKEN=WRONG_TOKEN, BOT_TELEGRAM_BASE_URL="http://127.0.0.1:9"
    )
    assert status == 2
    failure = the_failure(lines)
    assert "BOT_TELEGRAM_BASE_URL" in failure and "http://127.0.0.1:9" in failure
    assert not any("SECRET-TOKEN" in line for line in lines)


async def test_an_unreachable_database(tg: FakeTelegram, tmp_path: Path) -> None:
    url = f"postgresql+asyncpg://postgres:{DB_PASSWORD}@127.0.0.1:9/bot"
    status, lines = await run_bot(
        tmp_path,
        BOT_DATABASE_URL=url,
        BOT_TELEGRAM_TOKEN=tg.token,
        BOT_TELEGRAM_BASE_URL=tg.base_url,
    )
    assert status == 2
    failure = the_failure(lines)
    assert failure.startswith("chatbot: BOT_DATABASE_URL: ") and "127.0.0.1:9" in failure
    assert not any(DB_PASSWORD in line for line in lines)
    assert not tg.calls  # nothing of the bot started
