"""Cutting sections into passages small enough to embed and to quote.

A passage never crosses a heading, keeps its heading path, and is cut at paragraph, then
sentence boundaries. Chinese passages are shorter in characters: a Chinese character is
about one model token, an English word about one and a half for four or five characters.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from bot.knowledge.documents import ParsedDocument
from bot.lang import detect_lang

CHUNKER_VERSION = "1"  # part of the content hash: a new chunker re-indexes everything
MAX_CHARS = {"en": 900, "zh": 380}
_SENTENCE = re.compile(r"(?<=[.!?。！？；;])\s*")


@dataclass(frozen=True, slots=True)
class Chunk:
    heading: str  # " > " joined heading path
    text: str
    lang: str

    def context(self, title: str) -> str:
        """The text a model or an index sees: where in the handbook, then the passage."""
        where = " > ".join(part for part in (title, self.heading) if part)
        return f"{where}\n{self.text}" if where else self.text


def chunk_document(document: ParsedDocument, default_lang: str = "en") -> list[Chunk]:
    chunks: list[Chunk] = []
    for section in document.sections:
        heading = " > ".join(section.headings)
        lang = detect_lang(section.text) or detect_lang(document.title) or default_lang
        for piece in _pieces(section.text, MAX_CHARS.get(lang, MAX_CHARS["en"])):
            chunks.append(Chunk(heading, piece, lang))
    return chunks


def document_lang(document: ParsedDocument) -> str:
    sample = document.title + " " + " ".join(s.text[:400] for s in document.sections[:5])
    return detect_lang(sample) or "en"


def _pieces(text: str, limit: int) -> Iterator[str]:
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
    current = ""
    for paragraph in paragraphs:
        for unit in _fit(paragraph, limit):
            if current and len(current) + len(unit) + 2 > limit:
                yield current
                current = ""
            current = f"{current}\n\n{unit}" if current else unit
    if current:
        yield current


def _fit(paragraph: str, limit: int) -> Iterator[str]:
    """The paragraph as it is, or cut at sentence ends (hard cut as the last resort)."""
    if len(paragraph) <= limit:
        yield paragraph
        return
    current = ""
    for sentence in (s for s in _SENTENCE.split(paragraph) if s):
        while len(sentence) > limit:
            yield from ([current] if current else [])
            current = ""
            yield sentence[:limit]
            sentence = sentence[limit:]
        if current and len(current) + len(sentence) + 1 > limit:
            yield current
            current = ""
        current = f"{current} {sentence}".strip() if current else sentence
    if current:
        yield current
