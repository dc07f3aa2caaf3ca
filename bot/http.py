"""The bot's one HTTP server: /healthz, /metrics, and the adapters' webhook routes."""

from __future__ import annotations

import logging

from aiohttp import web

from bot.llm.types import LLM
from bot.metrics import LLM_UP, exposition
from bot.store.api import Store

log = logging.getLogger(__name__)


class HttpServer:
    def __init__(self, host: str, port: int, store: Store, llm: LLM) -> None:
        self.host, self.port = host, port
        self.store, self.llm = store, llm
        self.app = web.Application()
        self.app.add_routes(
            [
                web.get("/healthz", self.healthz),
                web.get("/livez", self.livez),
                web.get("/metrics", self.metrics),
            ]
        )
        self._runner: web.AppRunner | None = None

    def add_routes(self, routes: list[web.RouteDef]) -> None:
        self.app.add_routes(routes)

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        sockets = getattr(site._server, "sockets", None) or []
        if sockets:
            self.port = sockets[0].getsockname()[1]
        log.info("HTTP server on http://%s:%s (/healthz, /metrics)", self.host, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def healthz(self, request: web.Request) -> web.Response:
        database, llm = await self.store.ping(), await self.llm.ping()
        status = 200 if database and llm else 503
        return web.json_response({"database": database, "llm": llm}, status=status)

    async def livez(self, request: web.Request) -> web.Response:
        """The process is alive; a model outage must not get it restarted (see /healthz)."""
        return web.json_response({"alive": True})

    async def metrics(self, request: web.Request) -> web.Response:
        LLM_UP.set(1 if await self.llm.ping() else 0)
        return web.Response(body=exposition(), content_type="text/plain")
