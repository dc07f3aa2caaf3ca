"""The bot over SQLite and over PostgreSQL (a schema of its own), for the scheduled jobs."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.store.jobstore import sync_engine
from tests.fakes.llm_server import FakeLLMServer
from tests.harness import Harness, harness

PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


@dataclass
class Database:
    url: str
    schema: str | None


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        yield Database(f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}", None)
        return
    schema = f"test_jobs_{uuid.uuid4().hex[:16]}"
    yield Database(PG_URL, schema)
    engine = sync_engine(PG_URL)
    try:
        with engine.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    finally:
        engine.dispose()


@pytest.fixture
async def jobs_bot(llm_server: FakeLLMServer, database: Database) -> AsyncIterator[Harness]:
    async with harness(llm_server.base_url, database.url, schema=database.schema) as built:
        yield built
