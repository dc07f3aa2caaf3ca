"""A transparent HTTP proxy in front of a real model server that records what the bot sent.

End-to-end tests use it to read the exact prompts of each turn (to check that every turn's
prompt begins with the previous one) without touching the bot's code.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp
from aiohttp import web

from tests.fakes.serving import local_port, serve_local


class RecordingProxy:
    def __init__(self, upstream_root: str) -> None:
        self.upstream_root = upstream_root.rstrip("/")
        self.requests: list[dict[str, Any]] = []
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self.base_url = ""

    async def __aenter__(self) -> RecordingProxy:
        app = web.Application()
        app.router.add_route("*", "/{path:.*}", self._forward)
        self._runner = await serve_local(app)
        self.base_url = f"http://127.0.0.1:{local_port(self._runner)}/v1"
        self._session = aiohttp.ClientSession()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        assert self._session is not None
        body = await request.read()
        if body and request.content_type == "application/json":
            self.requests.append(
                {**json.loads(body), "_headers": {k.lower(): v for k, v in request.headers.items()}}
            )
        headers = {
            k: v for k, v in request.headers.items() if k.lower() not in {"host", "content-length"}
        }
        async with self._session.request(
            request.method, f"{self.upstream_root}{request.path_qs}", data=body, headers=headers
        ) as upstream:
            response = web.StreamResponse(status=upstream.status)
            response.content_type = upstream.content_type
            await response.prepare(request)
            async for chunk in upstream.content.iter_any():
                await response.write(chunk)
            await response.write_eof()
            return response
