"""Fault injection for the crash tests: `BOT_CRASH_AT=<name>` kills the process with
SIGKILL the first time it reaches the named point (`<name>#<n>`: the n-th time), as
`kill -9` would at that instant.

Read once at import (a test sets it in the environment of the bot it starts); unset, a
crash point costs one comparison. Names in use: `telegram.received` (updates taken from
getUpdates, not yet stored), `turn.previewed` (the reply streamed as drafts, not stored),
`turn.committed` (the turn stored, its replies not yet delivered), `delivery.accepted`
(the platform took a reply, not yet marked delivered), `grading.question` (one interview
question graded and its checkpoint saved, the turn not yet stored).
"""

from __future__ import annotations

import os
import signal

_ARMED, _, _NTH = os.environ.get("BOT_CRASH_AT", "").partition("#")
_left = int(_NTH or 1)


def reached(name: str) -> None:
    global _left
    if not _ARMED or name != _ARMED:
        return
    _left -= 1
    if _left == 0:
        os.kill(os.getpid(), signal.SIGKILL)
