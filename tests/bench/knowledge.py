"""`make kb-bench`: the knowledge base's figures, not assertions.

1. Indexing 1,000 generated documents (English and Chinese Markdown) into SQLite: parsing,
   chunking, lexical terms, FTS5 and the rows, with vectors from a hashing embedder (no
   model); then the same documents indexed the whole way with the embedded
   multilingual-e5-small (`--e5-documents`, 0 for a projection from `--sample` documents).
2. Re-indexing the same 1,000 documents unchanged.
3. Search at 10,000 passages: lexical + dense + fusion + fetching the passages, p50/p99
   over 200 questions, and the embedded model's time to embed a question.
Seconds on this machine, whatever else runs on it: the load average is printed too.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import random
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from bot.knowledge.chunking import chunk_document
from bot.knowledge.documents import read_markdown
from bot.knowledge.embedders import EmbeddedE5, Vectors, normalised
from bot.knowledge.indexer import index_paths
from bot.knowledge.retrieval import HybridRetriever
from bot.knowledge.text import terms
from bot.store.knowledge import KnowledgeStore

TOPICS_EN = ["leave", "VPN", "expenses", "printing", "laptop", "travel", "badge", "payroll"]
TOPICS_ZH = ["年假", "班车", "餐补", "公积金", "门禁", "出差", "报销", "年会"]
OFFICES = ["Lisbon", "Shenzhen", "Berlin", "Austin", "Nairobi"]


class HashingEmbedder:
    """Vectors from hashed terms: the cost of everything but the model."""

    name = "bench/hashing-384"

    async def passages(self, texts: Sequence[str]) -> Vectors:
        return normalised([self._vector(text) for text in texts])

    async def query(self, text: str) -> Vectors:
        vector: Vectors = normalised(self._vector(text))[0]
        return vector

    async def close(self) -> None:
        return None

    @staticmethod
    def _vector(text: str) -> list[float]:
        vector = [0.0] * 384
        for term in terms(text):
            vector[int(hashlib.blake2b(term.encode(), digest_size=4).hexdigest(), 16) % 384] += 1
        vector[0] += 0.01
        return vector


def document(number: int, sections: int, rng: random.Random) -> str:
    if number % 3 == 2:
        topic = rng.choice(TOPICS_ZH)
        body = [f"# {topic}规定 {number}"]
        for s in range(sections):
            body.append(
                f"## 第 {s + 1} 节\n\n深圳办公室关于{topic}的规定：每年 {rng.randint(1, 99)} 天，"
                f"费用 {rng.randint(10, 999)} 元，编号 ZH-{number}-{s}。请在人事通中提交申请。"
            )
        return "\n\n".join(body)
    topic, office = rng.choice(TOPICS_EN), rng.choice(OFFICES)
    body = [f"# {topic} policy {number} ({office})"]
    for s in range(sections):
        body.append(
            f"## Part {s + 1}\n\nEmployees in {office} follow rule {number}-{s} for {topic}: "
            f"{rng.randint(1, 99)} days, EUR {rng.randint(10, 999)}, code EN-{number}-{s}. "
            "Requests go through PeopleDesk and are approved by the line manager."
        )
    return "\n\n".join(body)


def write_corpus(folder: Path, documents: int, sections: int) -> None:
    rng = random.Random(7)
    folder.mkdir(parents=True)
    for number in range(documents):
        (folder / f"doc-{number:05d}.md").write_text(
            document(number, sections, rng), encoding="utf-8"
        )


async def bench(documents: int, search_passages: int, sample: int, e5_documents: int) -> None:
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        corpus = root / "docs"
        write_corpus(corpus, documents, 2)
        store = KnowledgeStore(f"sqlite+aiosqlite:///{root / 'index.db'}")
        await store.upgrade()
        hashing = HashingEmbedder()
        started = time.perf_counter()
        report = await index_paths(store, hashing, [corpus])
        first = time.perf_counter() - started
        print(f"index {documents} documents ({report.chunks} passages), no model: {first:.1f} s")
        started = time.perf_counter()
        report = await index_paths(store, hashing, [corpus])
        print(
            f"re-index {documents} unchanged documents: {time.perf_counter() - started:.2f} s "
            f"({report.unchanged} unchanged)"
        )
        await store.close()

        e5 = EmbeddedE5()
        await e5.query("warm up")
        if e5_documents:
            store = KnowledgeStore(f"sqlite+aiosqlite:///{root / 'e5.db'}")
            await store.upgrade()
            subset = root / "e5-docs"
            subset.mkdir()
            for path in sorted(corpus.iterdir())[:e5_documents]:
                (subset / path.name).write_bytes(path.read_bytes())
            cpu, started = time.process_time(), time.perf_counter()
            report = await index_paths(store, e5, [subset])
            took = time.perf_counter() - started
            print(
                f"index {e5_documents} documents ({report.chunks} passages) with embedded e5: "
                f"{took:.0f} s, {took / report.chunks * 1000:.0f} ms per passage, "
                f"{time.process_time() - cpu:.0f} s CPU"
            )
            await store.close()
        else:
            passages = []
            for path in sorted(corpus.iterdir())[:sample]:
                parsed = read_markdown(path.read_bytes(), path.stem)
                passages += [chunk.context(parsed.title) for chunk in chunk_document(parsed)]
            started = time.perf_counter()
            await e5.passages(passages)
            per_passage = (time.perf_counter() - started) / len(passages)
            chunks = documents * 2  # two sections a document, one passage each
            print(
                f"embedded e5: {per_passage * 1000:.0f} ms per passage ({len(passages)} measured); "
                f"{documents} documents with it ~ {first + per_passage * chunks:.0f} s (projected)"
            )

        store = KnowledgeStore(f"sqlite+aiosqlite:///{root / 'search.db'}")
        await store.upgrade()
        big = root / "big"
        write_corpus(big, search_passages // 5, 5)
        report = await index_paths(store, hashing, [big])
        retriever = HybridRetriever(store, hashing)
        rng = random.Random(11)
        questions = [
            rng.choice(
                [f"How many days of {t} in {o}?" for t in TOPICS_EN for o in OFFICES]
                + [f"{t}每年多少天？" for t in TOPICS_ZH]
                + [f"What is code EN-{rng.randint(0, 1999)}-1?"]
            )
            for _ in range(200)
        ]
        await retriever.search(questions[0])  # loads the vectors once
        timings = []
        for question in questions:
            started = time.perf_counter()
            await retriever.search(question, 5)
            timings.append((time.perf_counter() - started) * 1000)
        print(
            f"search at {report.chunks} passages (no model): p50 {percentile(timings, 50):.1f} ms, "
            f"p99 {percentile(timings, 99):.1f} ms"
        )
        embed_ms = []
        for question in questions[:50]:
            started = time.perf_counter()
            await e5.query(question)
            embed_ms.append((time.perf_counter() - started) * 1000)
        print(
            f"embedded e5, one question: p50 {percentile(embed_ms, 50):.1f} ms, "
            f"p99 {percentile(embed_ms, 99):.1f} ms (add to the search figures)"
        )
        await store.close()


def percentile(values: Sequence[float], p: float) -> float:
    return float(np.percentile(np.asarray(values), p)) if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.knowledge")
    parser.add_argument("--documents", type=int, default=1000)
    parser.add_argument("--passages", type=int, default=10_000)
    parser.add_argument(
        "--e5-documents", type=int, default=1000, help="indexed with e5 (0: project instead)"
    )
    parser.add_argument("--sample", type=int, default=10, help="documents embedded to project")
    args = parser.parse_args()
    asyncio.run(bench(args.documents, args.passages, args.sample, args.e5_documents))


if __name__ == "__main__":
    main()
