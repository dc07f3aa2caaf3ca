"""Serving an aiohttp app on loopback: the one way every fake and test server starts."""

from __future__ import annotations

from typing import Any

from aiohttp import web


async def serve_local(app: web.Application, port: int = 0, **runner: Any) -> web.AppRunner:
    """`app` listening on 127.0.0.1 (`port` 0: a free one, see `local_port`); the runner,
    whose `cleanup()` stops it."""
    started = web.AppRunner(app, access_log=None, **runner)
    await started.setup()
    await web.TCPSite(started, "127.0.0.1", port).start()
    return started


def local_port(runner: web.AppRunner) -> int:
    port = runner.addresses[0][1]
    assert isinstance(port, int)
    return port
