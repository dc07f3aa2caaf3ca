"""Building the knowledge base's parts from Settings, for the composition root and the CLI."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from bot.config import Settings
from bot.knowledge.embedders import build_embedder
from bot.knowledge.retrieval import HybridRetriever
from bot.store.knowledge import KnowledgeStore


def build_retriever(settings: Settings, *, schema: str | None = None) -> HybridRetriever:
    store = KnowledgeStore(settings.database_url, schema=schema)
    embedder = build_embedder(
        settings.embeddings_base_url,
        settings.embeddings_model,
        settings.llm_api_key.get_secret_value(),
    )
    return HybridRetriever(store, embedder)


@asynccontextmanager
async def knowledge_base(settings: Settings) -> AsyncIterator[HybridRetriever]:
    """The retriever over a migrated database; its engine and embedder closed on exit."""
    retriever = build_retriever(settings)
    try:
        await retriever.store.upgrade()
        yield retriever
    finally:
        await retriever.embedder.close()
        await retriever.store.close()
