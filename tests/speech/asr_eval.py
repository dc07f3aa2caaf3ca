"""`make asr-eval`: word error rate (English), character error rate (Chinese) and real-time
factor of the embedded Whisper server on the committed clips, and the server's memory.

Figures, not assertions. RTF = transcription wall time / audio duration, measured through the
same HTTP endpoint and client the bot uses. The load average is printed beside it: on a
shared 2-core machine other processes take CPU from the server.

    python -m tests.speech.asr_eval [--base-url URL]   # default: start the embedded server
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from contextlib import ExitStack

import jiwer
import psutil

from bot.llm.transcription import TranscriptionClient
from bot.localmodel.asr import local_asr_server
from bot.speech.chinese import to_simplified
from tests.speech.clips import Clip, clips

PUNCTUATION = "，。！？、；：,.!?;:\"'"


def normalise_en(text: str) -> str:
    return " ".join(jiwer.RemovePunctuation()(text.lower()).replace("-", " ").split())


def normalise_zh(text: str) -> str:
    return "".join(ch for ch in to_simplified(text) if ch not in PUNCTUATION and not ch.isspace())


async def evaluate(base_url: str, server_pid: int | None) -> None:
    client = TranscriptionClient(base_url)
    rows: list[tuple[Clip, str, float]] = []
    server = psutil.Process(server_pid) if server_pid is not None else None
    try:
        await client.transcribe(clips()[2].read(), "warmup.ogg", "en")  # first call loads caches
        cpu_before = _cpu_seconds(server)
        for sample in clips():
            if not sample.text:
                continue
            started = time.perf_counter()
            heard = await client.transcribe(sample.read(), sample.name, sample.lang)
            rows.append((sample, heard, time.perf_counter() - started))
        cpu_s = _cpu_seconds(server) - cpu_before
    finally:
        await client.close()
    print(f"{'clip':24} {'lang':4} {'secs':>6} {'RTF':>6} {'error':>6}  transcript")
    by_lang: dict[str, list[float]] = {"en": [], "zh": []}
    audio_s = wall_s = 0.0
    for sample, heard, wall in rows:
        if sample.lang == "en":
            error = jiwer.wer(normalise_en(sample.text), normalise_en(heard))
        else:
            error = jiwer.cer(normalise_zh(sample.text), normalise_zh(heard))
        by_lang[sample.lang].append(error)
        audio_s += sample.seconds
        wall_s += wall
        print(
            f"{sample.name:24} {sample.lang:4} {sample.seconds:6.1f} {wall / sample.seconds:6.2f} "
            f"{error:6.1%}  {heard[:70]!r}"
        )
    for lang, metric in (("en", "WER"), ("zh", "CER")):
        if by_lang[lang]:
            print(f"{lang} mean {metric}: {sum(by_lang[lang]) / len(by_lang[lang]):.1%}")
    print(f"overall RTF: {wall_s / audio_s:.3f} ({wall_s:.1f} s for {audio_s:.1f} s of audio)")
    if server is not None:
        # CPU time does not grow when other processes take the cores; / 2 cores is about
        # the RTF an unloaded 2-core machine gives (Whisper keeps both threads busy).
        print(f"server CPU seconds per audio second: {cpu_s / audio_s:.3f}")
    load1, _, _ = os.getloadavg()
    print(f"load average (1 min): {load1:.1f} on {os.cpu_count()} cores")
    if server_pid is not None:
        rss = psutil.Process(server_pid).memory_info().rss
        print(f"ASR server RSS: {rss / 2**20:.0f} MiB")


def _cpu_seconds(process: psutil.Process | None) -> float:
    if process is None:
        return 0.0
    times = process.cpu_times()
    return float(times.user + times.system)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-url", help="an ASR server already running")
    parser.add_argument(
        "--beam-size", type=int, help="the embedded server's (default 5; 1 is greedy)"
    )
    args = parser.parse_args()
    with ExitStack() as stack:
        if args.base_url:
            base_url, pid = args.base_url, None
        else:
            started = time.perf_counter()
            base_url, process = stack.enter_context(
                local_asr_server("127.0.0.1", 0, beam_size=args.beam_size)
            )
            pid = process.pid
            print(
                f"embedded Whisper base (faster-whisper int8) up in "
                f"{time.perf_counter() - started:.1f} s"
            )
        asyncio.run(evaluate(base_url, pid))


if __name__ == "__main__":
    main()
