"""Hybrid retrieval: the database's lexical search and dense vectors, fused by rank (RRF).

Lexical search finds exact codes and numbers (bot.knowledge.text.specific_terms: generic
words pulled same-language passages above the right one, hit@1 for Chinese questions fell
from 0.87 to 0.67); the multilingual vectors find the same meaning in other words or
another language (a Chinese question, an English page).
Reciprocal rank fusion needs no score calibration between the two: each list contributes
1 / (RRF_K + rank).

A multilingual model still scores a question higher against passages in its own language
(on the sample handbook a Chinese question put the right English page 8th). So each
passage's similarity is standardised within its language (z-score over that language's
passages): "how far above the usual for this language", which ranks the right page first
in either language and doubles as the relevance measure that decides a decline.

The chunk vectors live in memory as one matrix, reloaded when the
store's version changes; 10,000 passages of 384 floats are 15 MB and one product.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator, Mapping, Sequence

import numpy as np
import numpy.typing as npt

from bot.knowledge.embedders import Embedder, Vectors
from bot.knowledge.text import specific_terms
from bot.knowledge.types import AnswerRecord, Passage
from bot.store.knowledge import KnowledgeStore

log = logging.getLogger(__name__)

RRF_K = 60
VERSION_CHECK_S = 1.0  # how stale the in-memory vectors may be: one query saved per search
CANDIDATES = 20  # from each of the two lists


class HybridRetriever:
    def __init__(self, store: KnowledgeStore, embedder: Embedder) -> None:
        self.store = store
        self.embedder = embedder
        self._version: tuple[int, str] | None = None
        self._ids = np.zeros(0, dtype=np.int64)
        self._matrix: Vectors = np.zeros((0, 0), dtype=np.float32)
        self._langs: list[npt.NDArray[np.bool_]] = []  # one mask per language
        self._row: dict[int, int] = {}
        self._reload = asyncio.Lock()
        self._checked_at = -VERSION_CHECK_S

    async def search(self, query: str, k: int = 5) -> list[Passage]:
        query = query.strip()
        if not query:
            return []
        lexical = await self.store.lexical_search(specific_terms(query), CANDIDATES)
        dense, similarity, cosine = await self._dense(query)
        fused: dict[int, float] = {}
        for ranking in (lexical, dense):
            for rank, chunk_id in enumerate(ranking, start=1):
                fused[chunk_id] = fused.get(chunk_id, 0.0) + 1.0 / (RRF_K + rank)
        best = sorted(fused, key=lambda cid: (-fused[cid], cid))[:k]
        stored = await self.store.chunks(best)
        lexical_rank = {cid: rank for rank, cid in enumerate(lexical, start=1)}
        dense_rank = {cid: rank for rank, cid in enumerate(dense, start=1)}
        return [
            Passage(
                chunk_id=cid,
                source=stored[cid].source,
                title=stored[cid].title,
                heading=stored[cid].heading,
                text=stored[cid].text,
                lang=stored[cid].lang,
                score=round(fused[cid], 6),
                lexical_rank=lexical_rank.get(cid),
                dense_rank=dense_rank.get(cid),
                similarity=similarity.get(cid),
                cosine=cosine.get(cid),
            )
            for cid in best
            if cid in stored  # a document replaced between the two queries
        ]

    async def is_empty(self) -> bool:
        documents, _ = await self.store.version()
        return documents == 0

    async def record_answer(self, record: AnswerRecord) -> None:
        await self.store.record_answer(
            conversation_id=record.conversation_id,
            question=record.question,
            query=record.query,
            answered=record.answered,
            passage_ids=record.passage_ids,
            cited_ids=record.cited_ids,
            model=record.model,
        )

    async def _dense(
        self, query: str
    ) -> tuple[list[int], Mapping[int, float], Mapping[int, float]]:
        await self._refresh()
        if not len(self._ids):
            return [], {}, {}
        vector = await self.embedder.query(query)
        if vector.shape[0] != self._matrix.shape[1]:
            log.warning("kb: stored vectors are from another model; re-index the documents")
            return [], {}, {}
        cosines = self._matrix @ vector
        scores = standardised(cosines, self._langs)
        top = min(CANDIDATES, len(scores))
        order = np.argpartition(-scores, top - 1)[:top]
        order = order[np.argsort(-scores[order], kind="stable")]
        ids = [int(self._ids[i]) for i in order]
        return ids, _Lookup(self._row, scores), _Lookup(self._row, cosines)

    async def _refresh(self) -> None:
        now = time.monotonic()
        if self._version is not None and now - self._checked_at < VERSION_CHECK_S:
            return
        self._checked_at = now
        version = await self.store.version()
        if version == self._version:
            return
        async with self._reload:
            if version == self._version:
                return
            rows = await self.store.vectors()
            sizes = {len(blob) for _, blob, _ in rows}
            if len(sizes) > 1:  # a half-finished switch of model: keep the commonest size
                common = max(sizes, key=lambda size: sum(len(b) == size for _, b, _ in rows))
                rows = [row for row in rows if len(row[1]) == common]
            if rows:
                self._ids = np.array([cid for cid, _, _ in rows], dtype=np.int64)
                self._matrix = np.vstack(
                    [np.frombuffer(blob, dtype=np.float32) for _, blob, _ in rows]
                )
                langs = np.array([lang for _, _, lang in rows])
                self._langs = [langs == lang for lang in sorted(set(langs.tolist()))]
                self._row = {int(cid): i for i, cid in enumerate(self._ids)}
            else:
                self._ids = np.zeros(0, dtype=np.int64)
                self._matrix = np.zeros((0, 0), dtype=np.float32)
                self._langs, self._row = [], {}
            self._version = version


MIN_GROUP = 8  # fewer passages than this in a language: too few for its own average


def standardised(
    scores: npt.NDArray[np.float32], groups: Sequence[npt.NDArray[np.bool_]]
) -> npt.NDArray[np.float32]:
    """Each score as standard deviations above the mean of its language's scores."""
    out = scores.astype(np.float32, copy=True)
    for mask in groups:
        group = mask if int(mask.sum()) >= MIN_GROUP else np.ones_like(mask)
        mean, std = float(scores[group].mean()), float(scores[group].std())
        out[mask] = (scores[mask] - mean) / (std if std > 1e-6 else 1.0)
    return out


class _Lookup(Mapping[int, float]):
    """Standardised scores by chunk id, without building a dict of every passage."""

    def __init__(self, rows: dict[int, int], scores: npt.NDArray[np.float32]) -> None:
        self._rows = rows
        self._scores = scores

    def __getitem__(self, chunk_id: int) -> float:
        return float(self._scores[self._rows[chunk_id]])

    def __iter__(self) -> Iterator[int]:
        return iter(self._rows)

    def __len__(self) -> int:
        return len(self._rows)
