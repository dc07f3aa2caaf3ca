"""The knowledge base's tables and queries: documents, chunks, lexical search, answers.

Lexical search runs in the database: SQLite's FTS5 (bm25) or PostgreSQL's full text
(`to_tsvector('simple', lexical)` under a GIN index, ts_rank). Both search the same
pre-computed terms (bot.knowledge.text), so Chinese bigrams work the same on both.
Vectors are stored as float32 bytes and compared in memory by the retriever.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, func, select, text
from sqlalchemy.ext.asyncio import async_sessionmaker

from bot.domain import utcnow
from bot.store import connect
from bot.store.models import KbAnswer, KbChunk, KbDocument

MAX_QUERY_TERMS = 32


@dataclass(frozen=True, slots=True)
class IndexedDocument:
    id: int
    source: str
    content_hash: str
    embedder: str
    chunk_count: int


@dataclass(frozen=True, slots=True)
class NewChunk:
    heading: str
    text: str
    lang: str
    lexical: str
    embedding: bytes | None


@dataclass(frozen=True, slots=True)
class StoredChunk:
    id: int
    source: str
    title: str
    heading: str
    text: str
    lang: str


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    id: int
    conversation_id: int
    question: str
    query: str
    answered: bool
    passage_ids: list[int]
    cited_ids: list[int]
    model: str


class KnowledgeStore:
    """The knowledge base's share of the bot's database, on its own small engine."""

    def __init__(self, url: str, *, schema: str | None = None) -> None:
        connect.check_schema(schema)
        self._url = connect.parse_url(url)
        self._schema = schema
        self._engine = connect.create_engine(self._url, schema)
        self._sessions = async_sessionmaker(self._engine, expire_on_commit=False)
        self._sqlite = connect.is_sqlite(self._url)

    async def upgrade(self) -> None:
        await connect.upgrade(self._engine, self._schema)

    async def close(self) -> None:
        await self._engine.dispose()

    # ---- indexing ------------------------------------------------------------------

    async def documents(self) -> dict[str, IndexedDocument]:
        async with self._sessions() as session:
            rows = await session.execute(
                select(
                    KbDocument.id,
                    KbDocument.source,
                    KbDocument.content_hash,
                    KbDocument.embedder,
                    KbDocument.chunk_count,
                )
            )
            return {row.source: IndexedDocument(*row) for row in rows}

    async def replace_document(
        self,
        *,
        source: str,
        title: str,
        lang: str,
        content_hash: str,
        embedder: str,
        chunks: Sequence[NewChunk],
    ) -> None:
        """The document's new version and chunks in one transaction: a search sees the old
        chunks or the new ones, never half of each."""
        async with self._sessions.begin() as session:
            old = await session.scalar(select(KbDocument.id).where(KbDocument.source == source))
            if old is not None:
                await session.execute(delete(KbChunk).where(KbChunk.document_id == old))
                await session.execute(delete(KbDocument).where(KbDocument.id == old))
            document = KbDocument(
                source=source,
                title=title[:512],
                lang=lang,
                content_hash=content_hash,
                embedder=embedder,
                chunk_count=len(chunks),
                indexed_at=utcnow(),
            )
            session.add(document)
            await session.flush()
            session.add_all(
                KbChunk(
                    document_id=document.id,
                    position=position,
                    heading=chunk.heading,
                    text=chunk.text,
                    lang=chunk.lang,
                    lexical=chunk.lexical,
                    embedding=chunk.embedding,
                )
                for position, chunk in enumerate(chunks)
            )

    async def remove_documents(self, sources: Sequence[str]) -> int:
        if not sources:
            return 0
        async with self._sessions.begin() as session:
            ids = list(
                await session.scalars(select(KbDocument.id).where(KbDocument.source.in_(sources)))
            )
            await session.execute(delete(KbChunk).where(KbChunk.document_id.in_(ids)))
            await session.execute(delete(KbDocument).where(KbDocument.id.in_(ids)))
            return len(ids)

    # ---- search --------------------------------------------------------------------

    async def version(self) -> tuple[int, str]:
        """Changes whenever a document is added, replaced or removed: the retriever's
        in-memory vectors are reloaded when it does."""
        async with self._sessions() as session:
            row = (
                await session.execute(
                    select(func.count(KbDocument.id), func.max(KbDocument.indexed_at))
                )
            ).one()
            return int(row[0]), str(row[1])

    async def vectors(self) -> list[tuple[int, bytes, str]]:
        """(chunk id, float32 vector bytes, language) of every embedded chunk."""
        async with self._sessions() as session:
            rows = await session.execute(
                select(KbChunk.id, KbChunk.embedding, KbChunk.lang).where(
                    KbChunk.embedding.is_not(None)
                )
            )
            return [(int(cid), bytes(blob), lang) for cid, blob, lang in rows if blob is not None]

    async def lexical_search(self, terms: Sequence[str], limit: int) -> list[int]:
        """Chunk ids best first. `terms` come from bot.knowledge.text: letters, digits and
        Chinese characters only, so quoting them is all the escaping they need."""
        terms = [term for term in terms if term.isalnum()][:MAX_QUERY_TERMS]
        if not terms:
            return []
        async with self._sessions() as session:
            if self._sqlite:
                match = " OR ".join(f'"{term}"' for term in terms)
                rows = await session.execute(
                    text(
                        "SELECT rowid FROM kb_chunks_fts WHERE kb_chunks_fts MATCH :q "
                        "ORDER BY bm25(kb_chunks_fts) LIMIT :n"
                    ),
                    {"q": match, "n": limit},
                )
            else:
                query = " | ".join(f"'{term}'" for term in terms)
                rows = await session.execute(
                    text(
                        "SELECT id FROM kb_chunks, to_tsquery('simple', :q) AS q "
                        "WHERE to_tsvector('simple', lexical) @@ q "
                        "ORDER BY ts_rank(to_tsvector('simple', lexical), q, 1) DESC, id "
                        "LIMIT :n"
                    ),
                    {"q": query, "n": limit},
                )
            return [int(row[0]) for row in rows]

    async def chunks(self, ids: Sequence[int]) -> dict[int, StoredChunk]:
        if not ids:
            return {}
        async with self._sessions() as session:
            rows = await session.execute(
                select(
                    KbChunk.id,
                    KbDocument.source,
                    KbDocument.title,
                    KbChunk.heading,
                    KbChunk.text,
                    KbChunk.lang,
                )
                .join(KbDocument, KbDocument.id == KbChunk.document_id)
                .where(KbChunk.id.in_(list(ids)))
            )
            return {int(row[0]): StoredChunk(*row) for row in rows}

    # ---- answers' citations ------------------------------------------------------------

    async def record_answer(
        self,
        *,
        conversation_id: int,
        question: str,
        query: str,
        answered: bool,
        passage_ids: Sequence[int],
        cited_ids: Sequence[int],
        model: str,
    ) -> int:
        async with self._sessions.begin() as session:
            row = KbAnswer(
                conversation_id=conversation_id,
                question=question,
                query=query,
                answered=answered,
                passage_ids=list(passage_ids),
                cited_ids=list(cited_ids),
                model=model[:255],
                created_at=utcnow(),
            )
            session.add(row)
            await session.flush()
            return row.id

    async def answers(
        self, *, conversation_id: int | None = None, answered: bool | None = None
    ) -> list[StoredAnswer]:
        """Stored answers, oldest first: a conversation's (for a hand-off), or the declined
        ones (`answered=False`, for `chatbot kb report`)."""
        query = select(KbAnswer).order_by(KbAnswer.id)
        if conversation_id is not None:
            query = query.where(KbAnswer.conversation_id == conversation_id)
        if answered is not None:
            query = query.where(KbAnswer.answered == answered)
        async with self._sessions() as session:
            return [
                StoredAnswer(
                    row.id,
                    row.conversation_id,
                    row.question,
                    row.query,
                    row.answered,
                    list(row.passage_ids),
                    list(row.cited_ids),
                    row.model,
                )
                for row in await session.scalars(query)
            ]
