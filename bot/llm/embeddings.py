"""Embeddings over an OpenAI-compatible `/v1/embeddings` (the company's vLLM serving an
embedding model). Returns plain lists of floats; the knowledge base normalises them."""

from __future__ import annotations

from collections.abc import Sequence

import openai

from bot.errors import LLMError, LLMUnavailable

BATCH = 64  # inputs per request: well inside vLLM's limits, few round trips


class OpenAIEmbeddings:
    def __init__(
        self, base_url: str, *, model: str | None, api_key: str = "EMPTY", timeout_s: float = 60.0
    ) -> None:
        self._client = openai.AsyncOpenAI(
            base_url=base_url, api_key=api_key, max_retries=2, timeout=timeout_s
        )
        self._model = model

    async def model_name(self) -> str:
        if self._model is None:
            try:
                models = await self._client.models.list()
            except openai.OpenAIError as exc:
                raise LLMUnavailable(f"embeddings server: {type(exc).__name__}") from exc
            if not models.data:
                raise LLMUnavailable("the embeddings server lists no model")
            self._model = models.data[0].id
        return self._model

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        model = await self.model_name()
        vectors: list[list[float]] = []
        for start in range(0, len(texts), BATCH):
            batch = list(texts[start : start + BATCH])
            try:
                response = await self._client.embeddings.create(model=model, input=batch)
            except (openai.APIConnectionError, openai.APITimeoutError) as exc:
                raise LLMUnavailable(f"embeddings server: {type(exc).__name__}") from exc
            except openai.APIStatusError as exc:
                raise LLMError(f"embeddings server refused: HTTP {exc.status_code}") from exc
            ordered = sorted(response.data, key=lambda item: item.index)
            if len(ordered) != len(batch):
                raise LLMError(f"embeddings server returned {len(ordered)} of {len(batch)}")
            vectors.extend(list(item.embedding) for item in ordered)
        return vectors

    async def close(self) -> None:
        await self._client.close()
