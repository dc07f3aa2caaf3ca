"""Scripts for the scripted engine (tests/fakes/scripted_engine.py) at the Slack seam."""

from __future__ import annotations

from collections.abc import Sequence

from bot.domain import Incoming, TextDelta, TextDone, Thinking
from tests.fakes.scripted_engine import Pause, Script, Step


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
