"""`chatbot ...` as a user runs it: a real process (`python -m bot`), its exit code and
what it printed."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Ran:
    code: int
    out: str
    err: str


async def run_chatbot(
    *args: str, env: Mapping[str, str], stdin: bytes | None = None, limit_s: float = 60
) -> Ran:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=dict(env),
    )
    async with asyncio.timeout(limit_s):
        out, err = await process.communicate(stdin)
    return Ran(process.returncode or 0, out.decode(), err.decode())
