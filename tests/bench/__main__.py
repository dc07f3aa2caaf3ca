"""`make bench`: figures, not assertions. `python -m tests.bench --help` for the modes."""

from __future__ import annotations

import argparse
import asyncio
import logging

from tests.bench.engine import run_engine_bench
from tests.bench.quality import add_quality_arguments, quality_mode
from tests.bench.real import run_real_bench
from tests.bench.report import table
from tests.bench.scale import ScaleRun, cpu_split, run_scale
from tests.bench.slack import run_slack_bench
from tests.bench.telegram import run_telegram_bench

# (conversations, turns, tokens/s) when not given: each mode's default run takes about a minute
DEFAULTS = {"engine": (50, 4, 100.0), "telegram": (20, 3, 50.0), "slack": (20, 3, 50.0)}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.bench")
    parser.add_argument(
        "modes", nargs="*", default=["engine"], help="engine, scale, telegram, slack, real, quality"
    )
    parser.add_argument("--conversations", type=int, default=None, help="per mode: 50, 20, 20")
    parser.add_argument("--turns", type=int, default=None, help="per conversation: 4, 3, 3")
    parser.add_argument(
        "--mentions",
        type=int,
        default=None,
        help="slack: how many conversations are channel threads, the rest DMs (default half)",
    )
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--workers", type=int, default=1, help="scale: bot processes")
    parser.add_argument("--ttft", type=float, default=0.2, help="seconds, scripted model")
    parser.add_argument("--tokens-per-s", type=float, default=None, help="100, 50, 50")
    parser.add_argument(
        "--words",
        type=int,
        nargs="+",
        default=[20],
        help="scale: words per answer; two values run twice and split the CPU into a part "
        "per model request and a part per streamed token (the difference between the runs)",
    )
    parser.add_argument(
        "--think-s",
        type=float,
        default=0.0,
        help="scale: mean pause before each message (exponential), as a person reads and "
        "types; 0 (default): every conversation sends at the same instant",
    )
    add_quality_arguments(parser)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    for mode in args.modes:
        if mode == "quality":  # simulated candidates against BOT_LLM_BASE_URL
            quality_mode(args)
            continue
        if mode == "scale":  # worker processes, the model in its own process
            runs = []
            for words in args.words:
                run = ScaleRun(
                    database=args.database,
                    conversations=args.conversations or 200,
                    turns=args.turns or 2,
                    workers=args.workers,
                    words=words,
                    ttft=args.ttft,
                    tokens_per_s=args.tokens_per_s or 100.0,
                    think_s=args.think_s,
                )
                title = (
                    f"scale: {run.conversations} conversations x {run.turns} turns on "
                    f"{run.database}, {run.workers} worker process(es), model in its own "
                    f"process (ttft {run.ttft}s, {run.words} words at {run.tokens_per_s:.0f}/s)"
                    + (f", {run.think_s:g}s mean pause before each message" if run.think_s else "")
                )
                runs.append(asyncio.run(run_scale(run)))
                print(table(title, runs[-1]), flush=True)
            if len(runs) == 2:
                print(table("scale: CPU split by the two runs", cpu_split(*runs)), flush=True)
            continue
        if mode == "real":  # the bot beside the plain openai client on a real vLLM
            conversations = args.conversations or 4
            figures = asyncio.run(run_real_bench(conversations))
            print(table(f"real: {conversations} conversations x 4 turns, bot vs direct", figures))
            continue
        if mode not in DEFAULTS:
            parser.error(f"unknown mode {mode!r}")
        conversations = args.conversations or DEFAULTS[mode][0]
        turns = args.turns or DEFAULTS[mode][1]
        rate = args.tokens_per_s or DEFAULTS[mode][2]
        model = f"scripted model (ttft {args.ttft}s, {rate:.0f} tokens/s)"
        if mode == "engine":
            figures = asyncio.run(run_engine_bench(conversations, turns, args.ttft, rate))
            title = f"engine: {conversations} concurrent conversations, {model}"
        elif mode == "telegram":
            figures = asyncio.run(run_telegram_bench(conversations, turns, args.ttft, rate))
            title = f"telegram: {conversations} concurrent candidates, {model}"
        else:
            mentions = args.mentions if args.mentions is not None else conversations // 2
            dms = max(0, conversations - mentions)
            figures = asyncio.run(run_slack_bench(dms, mentions, turns, args.ttft, rate))
            title = f"slack: {dms} DMs + {mentions} channel threads, {model}"
        print(table(title, figures))


if __name__ == "__main__":
    main()
