"""`chatbot kb index`: files and folders into the knowledge base, incrementally.

A file's content hash (with the chunker's version) decides: unchanged and embedded by the
same model, skipped without reading further; changed or new, re-chunked, re-embedded and
replaced in one transaction; indexed before under one of the given folders but gone now,
dropped. A file that cannot be parsed is reported and keeps its previous version.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bot.knowledge.chunking import CHUNKER_VERSION, chunk_document, document_lang
from bot.knowledge.documents import UnreadableDocument, reader_for
from bot.knowledge.embedders import Embedder
from bot.knowledge.text import terms
from bot.store.knowledge import KnowledgeStore, NewChunk

log = logging.getLogger(__name__)

Progress = Callable[[int, int, str], None]  # done, total, current source


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
            written = await _index_one(store, embedder, path, source, data, digest)
        except UnreadableDocument as exc:
            log.warning("kb: cannot read %s: %s", source, exc)
            report.failed.append(source)
            continue
        report.chunks += written
        if previous is None:
            report.added += 1
        else:
            report.changed += 1
    if progress is not None:
        progress(len(files), len(files), "")
    gone = [
        source
        for source in known
        if source not in seen and any(_is_under(source, root) for root in roots)
    ]
    report.removed = await store.remove_documents(gone)
    return report


async def _index_one(
    store: KnowledgeStore, embedder: Embedder, path: Path, source: str, data: bytes, digest: str
) -> int:
    reader = reader_for(path)
    assert reader is not None  # collect_files kept only readable formats
    document = reader(data, path.stem.replace("-", " ").replace("_", " "))
    lang = document_lang(document)
    chunks = chunk_document(document, lang)
    contexts = [chunk.context(document.title) for chunk in chunks]
    vectors = await embedder.passages(contexts)
    rows = [
        NewChunk(
            heading=chunk.heading,
            text=chunk.text,
            lang=chunk.lang,
            lexical=" ".join(terms(context)),
            embedding=np.asarray(vector, dtype=np.float32).tobytes(),
        )
        for chunk, context, vector in zip(chunks, contexts, vectors, strict=True)
    ]
    await store.replace_document(
        source=source,
        title=document.title,
        lang=lang,
        content_hash=digest,
        embedder=embedder.name,
        chunks=rows,
    )
    return len(rows)


def _is_under(source: str, root: Path) -> bool:
    return source.startswith(root.as_posix().rstrip("/") + "/")
