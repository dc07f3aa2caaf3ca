"""The stream-driving loop both chat renderers share; platform-neutral (bot.domain only).

A renderer shows one turn's `Output` stream. While the model writes, text arrives in small
deltas that a platform can only show at its own pace (Telegram drafts and edits, Slack
appendStream and chat.update), so the loop waits for *either* the next output *or* the
moment the current live view may flush, whichever comes first. Outputs are pulled one at a
time (never read ahead), so the engine's producer sees back-pressure from the platform.
Each platform supplies a small `TurnView`: what to do with one output, which live view
(if any) is buffering text, and how to close at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Protocol

from bot.domain import Output


class LiveView(Protocol):
    def due_in(self) -> float | None:
        """Seconds until a flush is useful and allowed; None when nothing is pending."""

    async def flush(self) -> None: ...


class TurnView(Protocol):
    def live(self) -> LiveView | None:
        """The view buffering streamed text now, if any."""

    async def show(self, output: Output) -> None: ...

    async def finish(self) -> None:
        """The stream ended normally: close whatever is still open."""

    async def close(self) -> None:
        """Always called last, also on failure: stop background hints (typing)."""


async def _next(outputs: AsyncIterator[Output]) -> Output:
    return await anext(outputs)


async def drive(outputs: AsyncIterator[Output], view: TurnView) -> None:
    """Show `outputs` through `view`; an error raised by the stream is re-raised here."""
    pending: asyncio.Task[Output] | None = None
    try:
        while True:
            if pending is None:
                pending = asyncio.create_task(_next(outputs))
            live = view.live()
            delay = live.due_in() if live is not None else None
            if delay is not None and delay <= 0 and not pending.done():
                # An output already queued goes first: a flush now could be a wasted call
                # that the next output (often the final text) makes unnecessary.
                await asyncio.sleep(0)
            done, _ = await asyncio.wait({pending}, timeout=delay)
            if not done:
                assert live is not None  # a timeout only happens with a live view
                await live.flush()
                continue
            finished, pending = pending, None
            try:
                output = finished.result()
            except StopAsyncIteration:
                break
            await view.show(output)
        await view.finish()
    finally:
        await view.close()
        if pending is not None:
            pending.cancel()
            with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                await pending
