"""The scripted model server in a process of its own, so that the bot's CPU time measured
by a bench is the bot's alone. `python -m tests.bench.model_process --tokens 20 ...`
prints its base URL on the first line of stdout and serves until stdin closes.

Every answer is "answer to <the last user message>" and then `--tokens` words, streamed
at `--tokens-per-s`. GET /metrics?bench=1 returns, per request, the wall-clock time it arrived
and finished, and the most requests of one conversation (X-Session-ID) ever in flight
together (more than 1 would mean two processes ran one conversation's turns at once).
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from aiohttp import web

from tests.fakes.llm_server import Answer, FakeLLMServer


class BenchModelServer(FakeLLMServer):
    def __init__(self, words: int, ttft: float, tokens_per_s: float) -> None:
        super().__init__()
        self.filler = " lorem" * words
        self.ttft, self.token_delay = ttft, 1.0 / tokens_per_s
        self.default = self._answer
        self.log: list[dict[str, Any]] = []
        self.in_flight: Counter[str] = Counter()
        self.max_overlap = 0

    def _answer(self, body: dict[str, Any]) -> Answer:
        last = str(body["messages"][-1]["content"])
        return Answer(
            f"answer to {last}{self.filler}", ttft=self.ttft, token_delay=self.token_delay
        )

    async def _chat_completions(self, request: web.Request) -> web.StreamResponse:
        session = request.headers.get("X-Session-ID", "")
        arrived = time.time()
        self.in_flight[session] += 1
        self.max_overlap = max(self.max_overlap, self.in_flight[session])
        try:
            response = await super()._chat_completions(request)
        finally:
            self.in_flight[session] -= 1
            if not self.in_flight[session]:
                del self.in_flight[session]
            self.requests.clear()  # the base class keeps every body: not for 10,000 turns
        done = time.time()
        body = await request.json()  # aiohttp keeps the body it read
        tag = str(body["messages"][-1]["content"])
        self.log.append({"session": session, "tag": tag, "arrived": arrived, "done": done})
        return response

    async def _metrics(self, request: web.Request) -> web.Response:
        # The base class builds its routes before we could add one: the figures ride here.
        if "bench" not in request.query:
            return await super()._metrics(request)
        return web.json_response({"requests": self.log, "max_overlap": self.max_overlap})


async def _serve(words: int, ttft: float, tokens_per_s: float) -> None:
    server = BenchModelServer(words, ttft, tokens_per_s)
    url = await server.start()
    print(url, flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)  # until the parent closes our stdin
    await server.stop()


@contextmanager
def model_process(words: int, ttft: float, tokens_per_s: float) -> Iterator[str]:
    """The model server as a child process; yields its base URL."""
    command = [sys.executable, "-m", "tests.bench.model_process", "--words", str(words)]
    command += ["--ttft", str(ttft), "--tokens-per-s", str(tokens_per_s)]
    child = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        url = child.stdout.readline().strip()
        if not url.startswith("http://"):
            raise RuntimeError("the model process did not start")
        yield url
    finally:
        assert child.stdin is not None
        child.stdin.close()
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        if child.stdout is not None:
            child.stdout.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.model_process")
    parser.add_argument("--words", type=int, default=20)
    parser.add_argument("--ttft", type=float, default=0.2)
    parser.add_argument("--tokens-per-s", type=float, default=100.0)
    args = parser.parse_args()
    asyncio.run(_serve(args.words, args.ttft, args.tokens_per_s))


if __name__ == "__main__":
    main()
