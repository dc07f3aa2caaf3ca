"""A strict OpenAI-compatible `/v1/embeddings` server on 127.0.0.1 for logic tests.

Vectors are bags of the text's terms hashed into 4096 dimensions (with a few bilingual
synonyms mapped to one term), so related texts are near each other and tests know why.
Requests are checked as vLLM checks them: a known model, a list of strings, nothing empty.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
from aiohttp import web

from bot.knowledge.text import terms
from tests.fakes.serving import local_port, serve_local

DIM = 4096
SYNONYMS = {
    "年假": "leave",
    "假天": "leave",
    "深圳": "shenzhen",
    "里斯": "lisbon",
    "斯本": "lisbon",
}


def fake_vector(text: str) -> list[float]:
    vector = np.zeros(DIM, dtype=np.float64)
    for term in terms(text):
        term = SYNONYMS.get(term, term)
        slot = int.from_bytes(hashlib.sha256(term.encode()).digest()[:4], "big") % DIM
        vector[slot] += 1.0
    return vector.tolist()


class FakeEmbeddingsServer:
    def __init__(self, model: str = "fake-embedder") -> None:
        self.model = model
        self.requests: list[dict[str, Any]] = []
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    async def __aenter__(self) -> FakeEmbeddingsServer:
        app = web.Application()
        app.router.add_get("/v1/models", self._models)
        app.router.add_post("/v1/embeddings", self._embeddings)
        self._runner = await serve_local(app)
        self.base_url = f"http://127.0.0.1:{local_port(self._runner)}/v1"
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _models(self, request: web.Request) -> web.Response:
        return web.json_response(
            {"object": "list", "data": [{"id": self.model, "object": "model"}]}
        )

    async def _embeddings(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append(body)
        inputs = body.get("input")
        if body.get("model") != self.model:
            return _error(f"model {body.get('model')!r} does not exist", 404)
        if not isinstance(inputs, list) or not inputs:
            return _error("input must be a non-empty list of strings", 400)
        if not all(isinstance(item, str) and item for item in inputs):
            return _error("every input must be a non-empty string", 400)
        data = [
            {"object": "embedding", "index": i, "embedding": fake_vector(item)}
            for i, item in enumerate(inputs)
        ]
        usage = {"prompt_tokens": sum(len(i) for i in inputs), "total_tokens": 0}
        return web.json_response(
            {"object": "list", "data": data, "model": self.model, "usage": usage}
        )


def _error(message: str, status: int) -> web.Response:
    body = {"error": {"message": message, "type": "BadRequestError", "code": status}}
    return web.json_response(body, status=status)
