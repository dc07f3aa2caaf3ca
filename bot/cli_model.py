"""`chatbot model prepare|serve`: the embedded default LLM."""

from __future__ import annotations

import signal
import threading
from typing import Annotated

import typer

from bot.cli_speech import prepare_asr_model, serve_asr_model
from bot.localmodel.launch import ensure_prepared, local_server
from bot.localmodel.serve import LocalModelPaths

model_app = typer.Typer(help="The embedded local model (vLLM on CPU).", no_args_is_help=True)


@model_app.command("prepare")
def prepare(
    asr: Annotated[bool, typer.Option("--asr", help="the Whisper ASR model instead")] = False,
) -> None:
    """Install vLLM (CPU) and convert SmolLM2-135M-Instruct once; idempotent."""
    if asr:
        typer.echo(f"ASR model ready: {prepare_asr_model()}")
        return
    path = ensure_prepared(LocalModelPaths.resolve())
    typer.echo(f"model ready: {path}")


@model_app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on (--asr: 8010)")] = 8000,
    asr: Annotated[bool, typer.Option("--asr", help="serve Whisper ASR instead")] = False,
) -> None:
    """Serve the prepared model until Ctrl-C or SIGTERM."""
    if asr:
        serve_asr_model(host, 8010 if port == 8000 else port)
        return
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with local_server(host, port):
        stop.wait()
