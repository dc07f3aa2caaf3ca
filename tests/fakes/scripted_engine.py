"""A scripted stand-in for the engine (bot.ports.EngineAPI), at an adapter's seam.

Records every submitted `Incoming`, drops duplicates by event id the way the engine does
(unique platform event id), and answers each one by driving the attached renderer with a
scripted `Output` list, one turn at a time per conversation. `Pause(seconds)` in a script
stands for a slow model between tokens.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass

from bot.domain import ConversationKey, Incoming, Message, Output, Platform
from bot.ports import Listener, Receipt, Renderer


@dataclass(frozen=True)
class Pause:
    seconds: float


Step = Output | Pause
Script = Callable[[Incoming], Sequence[Step]]


def echo(incoming: Incoming) -> Sequence[Step]:
    return [Message(f"echo: {incoming.kind.value} {incoming.text}".strip())]


class ScriptedEngine:
    def __init__(self, script: Script = echo) -> None:
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

    async def render(self, key: ConversationKey, steps: Sequence[Step]) -> None:
        """Drive the renderer directly, as a scheduled job (a reminder) would."""
        await self.renderers[key.platform](key, _play(steps))

    async def _turn(self, incoming: Incoming, done: asyncio.Future[None]) -> None:
        async with self._turns.setdefault(incoming.key, asyncio.Lock()):
            try:
                await self.render(incoming.key, self.script(incoming))
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
