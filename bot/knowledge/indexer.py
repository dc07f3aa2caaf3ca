"""`chatbot kb index`: files and folders into the knowledge base, incrementally.

A file's content hash (with the chunker's version) decides: unchanged and embedded by the
same model, skipped without reading further; changed or new, re-chunked, re-embedded and
replaced in one transaction; indexed before under one of the given folders but gone now,
dropped. A file that cannot be parsed is reported and keeps its previous version.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bot.knowledge.chunking import CHUNKER_VERSION, Chunk, chunk_document, document_lang
from bot.knowledge.documents import UnreadableDocument, reader_for
from bot.knowledge.embedders import Embedder, Vectors
from bot.knowledge.text import terms
from bot.store.knowledge import KnowledgeStore, NewChunk

log = logging.getLogger(__name__)

Progress = Callable[[int, int, str], None]  # done, total, current source
EMBED_BATCH = 64  # passages per embedding call, from as many documents as it takes


@dataclass
class IndexReport:
    added: int = 0
    changed: int = 0
    unchanged: int = 0
    removed: int = 0
    chunks: int = 0
    failed: list[str] = field(default_factory=list)

    def summary(self) -> str:
        text = (
            f"{self.added} added, {self.changed} changed, {self.unchanged} unchanged, "
            f"{self.removed} removed; {self.chunks} passages written"
        )
        return text + (f"; {len(self.failed)} unreadable" if self.failed else "")


def collect_files(paths: Iterable[Path]) -> tuple[list[Path], list[Path]]:
    """(files in a readable format, the folders they were found under)."""
    files: list[Path] = []
    roots: list[Path] = []
    for given in paths:
        path = given.expanduser().resolve()
        if path.is_dir():
            roots.append(path)
            files.extend(
                p
                for p in sorted(path.rglob("*"))
                if p.is_file()
                and reader_for(p) is not None
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
        elif path.is_file() and reader_for(path) is not None:
            files.append(path)
        elif not path.exists():
            raise FileNotFoundError(str(given))
    return files, roots


def content_hash(data: bytes) -> str:
    digest = hashlib.sha256(data)
    digest.update(f"\0chunker={CHUNKER_VERSION}".encode())
    return digest.hexdigest()


async def index_paths(
    store: KnowledgeStore,
    embedder: Embedder,
    paths: Sequence[Path],
    *,
    progress: Progress | None = None,
) -> IndexReport:
    files, roots = collect_files(paths)
    known = await store.documents()
    report = IndexReport()
    seen: set[str] = set()
    waiting: list[_Parsed] = []  # read and chunked, not sent to the embedder yet
    passages = 0  # theirs
    writer = _Writer(store, embedder, report)
    try:
        for done, path in enumerate(files):
            source = path.as_posix()
            seen.add(source)
            if progress is not None:
                progress(done, len(files), source)
            data = path.read_bytes()
            digest = content_hash(data)
            previous = known.get(source)
            if previous and previous.content_hash == digest and previous.embedder == embedder.name:
                report.unchanged += 1
                continue
            try:
                parsed = _parse(path, source, data, digest, is_new=previous is None)
            except UnreadableDocument as exc:
                log.warning("kb: cannot read %s: %s", source, exc)
                report.failed.append(source)
                continue
            waiting.append(parsed)
            passages += len(parsed.contexts)
            if passages >= EMBED_BATCH:
                await writer.add(waiting)
                waiting, passages = [], 0
        await writer.add(waiting)
        await writer.finish()
    finally:
        await writer.abandon()
    if progress is not None:
        progress(len(files), len(files), "")
    gone = [
        source
        for source in known
        if source not in seen and any(_is_under(source, root) for root in roots)
    ]
    report.removed = await store.remove_documents(gone)
    return report


@dataclass(frozen=True)
class _Parsed:
    source: str
    title: str
    lang: str
    digest: str
    is_new: bool
    chunks: list[Chunk]
    contexts: list[str]  # what is embedded: each chunk with its title and headings


def _parse(path: Path, source: str, data: bytes, digest: str, *, is_new: bool) -> _Parsed:
    reader = reader_for(path)
    assert reader is not None  # collect_files kept only readable formats
    document = reader(data, path.stem.replace("-", " ").replace("_", " "))
    lang = document_lang(document)
    chunks = chunk_document(document, lang)
    contexts = [chunk.context(document.title) for chunk in chunks]
    return _Parsed(source, document.title, lang, digest, is_new, chunks, contexts)


class _Writer:
    """Documents embedded a group at a time, one group ahead of the writes: while the
    embedder works on a group (the embedded e5 in a thread of its own, a remote server over
    HTTP), the group before it is written and the next one read and chunked. One embedding
    call covers the passages of several documents: a remote server gets one request per 64
    passages rather than one per document, and the embedded e5, whose OpenMP threads wait
    passively, is slower in small batches (measured: 81 ms per passage two at a time, 56 ms
    at 32). Each document is still replaced in a transaction of its own."""

    def __init__(self, store: KnowledgeStore, embedder: Embedder, report: IndexReport) -> None:
        self._store, self._embedder, self._report = store, embedder, report
        self._ahead: tuple[list[_Parsed], asyncio.Task[Vectors]] | None = None

    async def add(self, group: list[_Parsed]) -> None:
        """Start embedding `group`, then store the group sent before it."""
        started = None
        if group:
            contexts = [c for parsed in group for c in parsed.contexts]
            started = (group, asyncio.create_task(self._embedder.passages(contexts)))
        ahead, self._ahead = self._ahead, started
        if ahead is not None:
            await self._store_group(*ahead)

    async def finish(self) -> None:
        """Store the group still being embedded."""
        await self.add([])

    async def abandon(self) -> None:
        """After a failure, the group still being embedded is waited for and dropped. Not
        cancelled: the embedded model's thread would run on without its lock, beside the
        next caller, and the engine's buffers are shared."""
        if self._ahead is not None:
            task, self._ahead = self._ahead[1], None
            with contextlib.suppress(Exception):
                await task

    async def _store_group(self, group: list[_Parsed], embedding: asyncio.Task[Vectors]) -> None:
        vectors = await embedding
        offset = 0
        for document in group:
            mine = vectors[offset : offset + len(document.contexts)]
            offset += len(document.contexts)
            rows = [
                NewChunk(
                    heading=chunk.heading,
                    text=chunk.text,
                    lang=chunk.lang,
                    lexical=" ".join(terms(context)),
                    embedding=np.asarray(vector, dtype=np.float32).tobytes(),
                )
                for chunk, context, vector in zip(
                    document.chunks, document.contexts, mine, strict=True
                )
            ]
            await self._store.replace_document(
                source=document.source,
                title=document.title,
                lang=document.lang,
                content_hash=document.digest,
                embedder=self._embedder.name,
                chunks=rows,
            )
            self._report.chunks += len(rows)
            if document.is_new:
                self._report.added += 1
            else:
                self._report.changed += 1


def _is_under(source: str, root: Path) -> bool:
    return source.startswith(root.as_posix().rstrip("/") + "/")
