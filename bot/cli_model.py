"""`chatbot model prepare|serve`: the embedded default LLM."""

from __future__ import annotations

import signal
import threading
from typing import Annotated

import typer

from bot.localmodel.launch import ensure_prepared, local_server
from bot.localmodel.serve import LocalModelPaths

model_app = typer.Typer(help="The embedded local model (vLLM on CPU).", no_args_is_help=True)


@model_app.command("prepare")
def prepare() -> None:
    """Install vLLM (CPU) and convert SmolLM2-135M-Instruct once; idempotent."""
    path = ensure_prepared(LocalModelPaths.resolve())
    typer.echo(f"model ready: {path}")


@model_app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
) -> None:
    """Serve the prepared model until Ctrl-C or SIGTERM."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with local_server(host, port):
        stop.wait()
