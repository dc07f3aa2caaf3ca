"""`chatbot run` starts the embedded Whisper only for a loopback BOT_ASR_BASE_URL that does
not answer; `chatbot model prepare --asr` is idempotent."""

from __future__ import annotations

import socket
from contextlib import ExitStack

from bot.cli_speech import with_local_asr
from bot.config import Settings
from bot.localmodel.asr import asr_model_dir, asr_reachable, asr_ready, prepare_asr


def settings(url: str) -> Settings:
    return Settings(_env_file=None, asr_base_url=url)  # type: ignore[call-arg]


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_a_server_that_answers_is_used_as_it_is(whisper_url: str) -> None:
    with ExitStack() as stack:
        assert with_local_asr(settings(whisper_url), stack).asr_base_url == whisper_url


def test_a_remote_server_is_never_replaced() -> None:
    remote = "http://whisper.example.invalid:8000/v1"
    with ExitStack() as stack:
        assert with_local_asr(settings(remote), stack).asr_base_url == remote


def test_a_silent_loopback_url_starts_the_embedded_whisper() -> None:
    port = closed_port()
    with ExitStack() as stack:
        started = with_local_asr(settings(f"http://127.0.0.1:{port}/v1"), stack)
        assert started.asr_base_url == f"http://127.0.0.1:{port}/v1"
        assert asr_reachable(started.asr_base_url)
    assert not asr_reachable(started.asr_base_url)  # stopped with the stack


def test_prepare_is_a_no_op_once_prepared() -> None:
    directory = asr_model_dir()
    prepare_asr(directory)  # the session's server prepared it already, or this does
    assert asr_ready(directory)
    before = (directory / "model.bin").stat().st_mtime_ns
    assert prepare_asr(directory, progress=None) == directory
    assert (directory / "model.bin").stat().st_mtime_ns == before
    assert (directory / "model.bin").stat().st_size == 145_217_532
