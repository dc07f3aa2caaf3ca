"""`make bench`: figures, not assertions. `python -m tests.bench --help` for the modes."""

from __future__ import annotations

import argparse
import asyncio
import logging

from tests.bench.engine import run_engine_bench
from tests.bench.report import table


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.bench")
    parser.add_argument("modes", nargs="*", default=["engine"], help="engine")
    parser.add_argument("--conversations", type=int, default=50)
    parser.add_argument("--turns", type=int, default=4)
    parser.add_argument("--ttft", type=float, default=0.2, help="seconds, scripted model")
    parser.add_argument("--tokens-per-s", type=float, default=100.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    for mode in args.modes:
        if mode == "engine":
            figures = asyncio.run(
                run_engine_bench(args.conversations, args.turns, args.ttft, args.tokens_per_s)
            )
            print(
                table(
                    f"engine: {args.conversations} concurrent conversations, scripted model "
                    f"(ttft {args.ttft}s, {args.tokens_per_s:.0f} tokens/s)",
                    figures,
                )
            )
        else:
            parser.error(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main()
