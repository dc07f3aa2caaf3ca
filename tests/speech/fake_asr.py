"""A strict fake of an OpenAI-compatible `/v1/audio/transcriptions` server on 127.0.0.1.

It records every request's form fields (the audio as its length) and answers from a script:
`enqueue(text)` for a transcript, `enqueue_status(503)` for a failure. An empty script or an
unexpected field is a 500 with the reason, so a test cannot pass on a request it did not plan.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import TracebackType

from aiohttp import BodyPartReader, web

from tests.fakes.serving import local_port, serve_local

ALLOWED_FIELDS = {"file", "model", "language", "response_format", "prompt", "temperature"}


@dataclass
class Scripted:
    status: int = 200
    text: str = ""


@dataclass
class FakeASRServer:
    model: str = "whisper-fake"
    requests: list[dict[str, str]] = field(default_factory=list)
    script: list[Scripted] = field(default_factory=list)
    base_url: str = ""

    def enqueue(self, text: str) -> None:
        self.script.append(Scripted(200, text))

    def enqueue_status(self, status: int) -> None:
        self.script.append(Scripted(status))

    async def _transcriptions(self, request: web.Request) -> web.Response:
        fields: dict[str, str] = {}
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            assert isinstance(part, BodyPartReader) and part.name
            if part.name not in ALLOWED_FIELDS:
                return web.json_response({"error": f"unexpected field {part.name}"}, status=500)
            fields[part.name] = (
                str(len(await part.read())) if part.name == "file" else await part.text()
            )
        self.requests.append(fields)
        if not self.script:
            return web.json_response({"error": "nothing scripted"}, status=500)
        step = self.script.pop(0)
        if step.status != 200:
            return web.json_response({"error": {"message": "scripted"}}, status=step.status)
        return web.json_response({"text": step.text})

    async def _models(self, _request: web.Request) -> web.Response:
        return web.json_response(
            {"object": "list", "data": [{"id": self.model, "object": "model"}]}
        )

    async def __aenter__(self) -> FakeASRServer:
        app = web.Application()
        app.router.add_post("/v1/audio/transcriptions", self._transcriptions)
        app.router.add_get("/v1/models", self._models)
        self._runner = await serve_local(app)
        self.base_url = f"http://127.0.0.1:{local_port(self._runner)}/v1"
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._runner.cleanup()
