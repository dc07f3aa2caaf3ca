"""`chatbot transcribe FILE` and the `--asr` side of `chatbot model prepare|serve|run`."""

from __future__ import annotations

import asyncio
import logging
import signal
import subprocess
import threading
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

import typer

from bot.config import Settings, load_settings
from bot.texts import text

log = logging.getLogger(__name__)


def prepare_asr_model() -> Path:
    from bot.localmodel.asr import asr_model_dir, prepare_asr

    return prepare_asr(asr_model_dir())


def serve_asr_model(host: str, port: int) -> None:
    from bot.localmodel.asr import local_asr_server

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with local_asr_server(host, port) as (base_url, _process):
        typer.echo(f"Whisper serving on {base_url}", err=True)
        stop.wait()


def with_local_asr(settings: Settings, stack: ExitStack) -> Settings:
    """Start the embedded Whisper when BOT_ASR_BASE_URL is a loopback address that does not
    answer; a remote or reachable server is used as it is."""
    from bot.localmodel.asr import asr_reachable, local_asr_server
    from bot.localmodel.launch import is_loopback

    url = settings.asr_base_url
    if asr_reachable(url) or not is_loopback(url):
        return settings
    try:
        served, _process = stack.enter_context(
            local_asr_server("127.0.0.1", urlsplit(url).port or 8010)
        )
    except (OSError, RuntimeError, subprocess.CalledProcessError) as exc:
        # voice is optional: the bot runs, and voice notes get "voice is unavailable"
        log.warning("the embedded ASR server did not start (%s); voice answers wait", exc)
        return settings
    return settings.model_copy(update={"asr_base_url": served})


def transcribe(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    lang: Annotated[str | None, typer.Option(help="en or zh; detected when omitted")] = None,
) -> None:
    """Print the transcript of FILE from the ASR server (BOT_ASR_BASE_URL)."""
    from bot.llm.transcription import TranscriptionClient, TranscriptionUnavailable
    from bot.speech.audio import AudioLimits, AudioRejected
    from bot.speech.transcriber import VoiceTranscriber

    if lang not in (None, "en", "zh"):
        raise typer.BadParameter("must be en or zh", param_hint="--lang")
    settings = load_settings()

    async def main() -> str:
        client = TranscriptionClient(settings.asr_base_url, model=settings.asr_model)
        transcriber = VoiceTranscriber(client, AudioLimits(max_seconds=settings.asr_max_seconds))
        try:
            transcript = await transcriber.transcribe(file.read_bytes(), file.name, lang)
        finally:
            await client.close()
        return transcript.text

    try:
        typer.echo(asyncio.run(main()))
    except AudioRejected as exc:
        key = f"voice_{exc.problem.value}"
        typer.echo(text(key, lang or "en", limit=int(settings.asr_max_seconds)), err=True)
        raise typer.Exit(1) from None
    except TranscriptionUnavailable:
        typer.echo(f"no ASR server answers at {settings.asr_base_url}", err=True)
        raise typer.Exit(3) from None
