"""The knowledge base as the support flow sees it: passages in, an answer record out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Passage:
    """One retrieved chunk of a document, with where it came from."""

    chunk_id: int
    source: str  # the file path or URL the document was indexed from
    title: str
    heading: str  # the heading path inside the document, " > " joined
    text: str
    lang: str
    score: float  # the fused (RRF) score: only its order means something
    lexical_rank: int | None = None  # 1-based, None when the lexical search missed it
    dense_rank: int | None = None
    # the question's similarity to the chunk, in standard deviations above the average for
    # chunks of the chunk's language (bot.knowledge.retrieval.standardised)
    similarity: float | None = None
    cosine: float | None = None  # the plain cosine similarity


@dataclass(frozen=True, slots=True)
class AnswerRecord:
    """Which answer cited which passages: for the report and the hand-off to a person."""

    conversation_id: int
    question: str
    query: str  # what was searched: the question, rewritten when it was a follow-up
    answered: bool
    passage_ids: Sequence[int] = field(default_factory=tuple)
    cited_ids: Sequence[int] = field(default_factory=tuple)
    model: str = ""


class KnowledgeSearch(Protocol):
    async def search(self, query: str, k: int = 5) -> list[Passage]:
        """The best `k` passages for `query`, best first; [] when nothing matches."""

    async def record_answer(self, record: AnswerRecord) -> None:
        """Store which passages an answer was given from (or that it declined)."""

    async def is_empty(self) -> bool:
        """No document is indexed (BOT_KB_PATHS unset and `chatbot kb index` never run)."""
