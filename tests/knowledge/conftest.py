"""The knowledge base over both database backends, with the strict fake embeddings server."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.knowledge.embedders import build_embedder
from bot.knowledge.retrieval import HybridRetriever
from bot.store import connect
from bot.store.knowledge import KnowledgeStore
from tests.knowledge.fake_embeddings import FakeEmbeddingsServer

PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


@pytest.fixture
async def embeddings() -> AsyncIterator[FakeEmbeddingsServer]:
    async with FakeEmbeddingsServer() as server:
        yield server


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def kb(
    request: pytest.FixtureRequest, tmp_path: Path, embeddings: FakeEmbeddingsServer
) -> AsyncIterator[HybridRetriever]:
    if request.param == "sqlite":
        url, schema = f"sqlite+aiosqlite:///{tmp_path / 'kb.db'}", None
    else:
        url, schema = PG_URL, f"test_kb_{uuid.uuid4().hex[:16]}"
    store = KnowledgeStore(url, schema=schema)
    embedder = build_embedder(embeddings.base_url, embeddings.model)
    try:
        await store.upgrade()
        yield HybridRetriever(store, embedder)
    finally:
        await embedder.close()
        await store.close()
        if schema is not None:
            engine = connect.create_engine(connect.parse_url(url), None)
            async with engine.begin() as connection:
                await connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            await engine.dispose()
