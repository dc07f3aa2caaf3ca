from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.fakes.llm_server import FakeLLMServer
from tests.harness import Harness, harness
from tests.vllm_server import VLLMServer


@pytest.fixture
async def llm_server() -> AsyncIterator[FakeLLMServer]:
    async with FakeLLMServer() as server:
        yield server


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"


@pytest.fixture
async def bot(llm_server: FakeLLMServer, db_url: str) -> AsyncIterator[Harness]:
    async with harness(llm_server.base_url, db_url) as built:
        yield built


@pytest.fixture(scope="session")
def vllm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VLLMServer]:
    """The real vLLM (CPU) serving SmolLM2-135M-Instruct, started once per test session.

    `make test` sets BOT_REQUIRE_VLLM=1: there a missing server is a failure, not a skip."""
    server = VLLMServer.from_environment(tmp_path_factory.mktemp("vllm"))
    if reason := server.unavailable_reason():
        if os.environ.get("BOT_REQUIRE_VLLM") == "1":
            pytest.fail(f"real vLLM required: {reason}")
        pytest.skip(reason)
    server.ensure_model()
    server.start()
    yield server
    server.stop()
