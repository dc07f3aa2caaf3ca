"""A scripted stand-in for the engine (bot.ports.EngineAPI), at the Slack adapter's seam.

Records every submitted `Incoming`, drops duplicates by event id the way the engine does
(unique platform event id), and answers each one by driving the attached renderer with a
scripted `Output` list, one turn at a time per conversation. `Pause(s)` is a slow model.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass

from bot.domain import ConversationKey, Incoming, Output, Platform, TextDelta, TextDone, Thinking
from bot.ports import Listener, Receipt, Renderer


@dataclass(frozen=True)
class Pause:
    seconds: float


Step = Output | Pause
Script = Callable[[Incoming], Sequence[Step]]


def hello(incoming: Incoming) -> Sequence[Step]:
    return [
        Thinking(),
        TextDelta("Hello"),
        TextDelta(", "),
        TextDelta("world."),
        TextDone("Hello, world."),
    ]


def streamed(reply: str, pieces: int = 10, pause_s: float = 0.0) -> Script:
    """A script that streams `reply` in `pieces` deltas, pausing between them."""

    def script(incoming: Incoming) -> Sequence[Step]:
        size = max(1, -(-len(reply) // pieces))
        steps: list[Step] = [Thinking()]
        for start in range(0, len(reply), size):
            steps.append(TextDelta(reply[start : start + size]))
            if pause_s:
                steps.append(Pause(pause_s))
        steps.append(TextDone(reply))
        return steps

    return script


class ScriptedEngine:
    def __init__(self, script: Script = hello) -> None:
        self.script = script
        self.submitted: list[Incoming] = []
        self.accepted: list[Incoming] = []
        self.renderers: dict[Platform, Renderer] = {}
        self.render_errors: list[BaseException] = []
        self._event_ids: set[str] = set()
        self._turns: dict[ConversationKey, asyncio.Lock] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def attach(self, platform: Platform, renderer: Renderer) -> None:
        self.renderers[platform] = renderer

    def subscribe(self, listener: Listener) -> None:
        pass

    async def submit(self, incoming: Incoming) -> Receipt:
        self.submitted.append(incoming)
        if incoming.event_id is not None:
            if incoming.event_id in self._event_ids:
                return Receipt(accepted=False)
            self._event_ids.add(incoming.event_id)
        self.accepted.append(incoming)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        task = asyncio.create_task(self._turn(incoming, done))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return Receipt(accepted=True, conversation_id=1, message_id=len(self.accepted), done=done)

    async def _turn(self, incoming: Incoming, done: asyncio.Future[None]) -> None:
        async with self._turns.setdefault(incoming.key, asyncio.Lock()):
            try:
                await self.renderers[incoming.key.platform](
                    incoming.key, _play(self.script(incoming))
                )
            except Exception as error:  # noqa: BLE001 - recorded for the test to assert on
                self.render_errors.append(error)
            finally:
                done.set_result(None)

    async def idle(self) -> None:
        while self._tasks:
            await asyncio.gather(*self._tasks)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


async def _play(steps: Sequence[Step]) -> AsyncIterator[Output]:
    for step in steps:
        if isinstance(step, Pause):
            await asyncio.sleep(step.seconds)
        else:
            yield step
