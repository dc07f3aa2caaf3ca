"""One store fixture over every backend: SQLite in a temporary file, PostgreSQL in a
fresh schema of its own (so parallel test sessions never see each other's tables)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.store import connect
from bot.store.models import Base
from bot.store.sql import SqlStore

PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


@dataclass
class Backend:
    name: str
    store: SqlStore
    url: str
    schema: str | None
    inspector: AsyncEngine  # a separate engine, to look at the raw tables

    async def dump(self) -> str:
        """Every row of every table, as one string: what remains, whatever the column."""
        parts: list[str] = []
        async with self.inspector.connect() as connection:
            for table in Base.metadata.sorted_tables:
                for row in await connection.execute(select(table)):
                    parts.append(f"{table.name}: {tuple(row)!r}")
        return "\n".join(parts)

    async def count(self, table: str) -> int:
        async with self.inspector.connect() as connection:
            return int(
                (await connection.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one()
            )


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    if request.param == "sqlite":
        # A folder that does not exist yet: the store creates it.
        url, schema = f"sqlite+aiosqlite:///{tmp_path / 'data' / 'bot.db'}", None
    else:
        url, schema = PG_URL, f"test_store_{uuid.uuid4().hex[:16]}"
    store = SqlStore(url, schema=schema)
    inspector = connect.create_engine(connect.parse_url(url), schema)
    try:
        await store.upgrade()
        yield Backend(request.param, store, url, schema, inspector)
    finally:
        await store.close()
        if schema is not None:
            async with inspector.begin() as connection:
                await connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await inspector.dispose()


@pytest.fixture
def store(backend: Backend) -> SqlStore:
    return backend.store
