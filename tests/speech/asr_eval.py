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


UNITS = {
    word: n
    for n, word in enumerate(
        [
            "zero",
            "one",
            "two",
            "three",
            "four",
            "five",
            "six",
            "seven",
            "eight",
            "nine",
            "ten",
            "eleven",
            "twelve",
            "thirteen",
            "fourteen",
            "fifteen",
            "sixteen",
            "seventeen",
            "eighteen",
            "nineteen",
        ]
    )
}
TENS = {
    word: 10 * n
    for n, word in enumerate(
        ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"], 2
    )
}


def normalise_en(text: str) -> str:
    """Lower case, no punctuation, hyphens as spaces, and numbers written in words as digits
    ("five" and "5", "twenty one" and "21" count as the same word), as the usual English WER
    normalisers do: how a number is written is not a recognition error."""
    words = jiwer.RemovePunctuation()(text.lower().replace("-", " ")).split()
    return " ".join(_digits(words))


def _digits(words: list[str]) -> list[str]:
    out: list[str] = []
    value: int | None = None
    for word in words:
        if value is not None:
            if word in UNITS and value in TENS.values():  # "twenty" "one"
                value += UNITS[word]
                continue
            if word == "hundred" and 0 < value < 10:
                value *= 100
                continue
            out.append(str(value))
            value = None
        if word in UNITS:
            value = UNITS[word]
        elif word in TENS:
            value = TENS[word]
        else:
            out.append(word)
    if value is not None:
        out.append(str(value))
    return out


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
        error = error_rate(sample.lang, [(sample, heard)])
        by_lang[sample.lang].append(error)
        audio_s += sample.seconds
        wall_s += wall
        print(
            f"{sample.name:24} {sample.lang:4} {sample.seconds:6.1f} {wall / sample.seconds:6.2f} "
            f"{error:6.1%}  {heard[:70]!r}"
        )
    for lang, metric in (("en", "WER"), ("zh", "CER")):
        if by_lang[lang]:
            mine = [(s, h, w) for s, h, w in rows if s.lang == lang]
            corpus = error_rate(lang, [(s, h) for s, h, _ in mine])
            rtf = sum(w for _, _, w in mine) / sum(s.seconds for s, _, _ in mine)
            print(
                f"{lang} {metric}: {corpus:.1%} over all {('words', 'characters')[lang == 'zh']}"
                f" (errors / reference length); mean of the clips' {metric}s "
                f"{sum(by_lang[lang]) / len(by_lang[lang]):.1%}; RTF {rtf:.3f}"
            )
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


def error_rate(lang: str, pairs: list[tuple[Clip, str]]) -> float:
    """WER (English) or CER (Chinese) over every clip given, each word (character) weighing
    the same: the usual definition, where a mean of per-clip rates lets a short clip's one
    error count as much as a long clip's ten. An empty transcript counts as all missed."""
    normalise, rate = (normalise_en, jiwer.wer) if lang == "en" else (normalise_zh, jiwer.cer)
    refs = [normalise(clip.text) for clip, _ in pairs]
    return float(rate(refs, [normalise(heard) or "-" for _, heard in pairs]))


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
