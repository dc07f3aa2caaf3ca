"""Retrying without storms: exponential backoff with jitter per thing retried, and failure
logs rate-limited (one ERROR with its traceback, then a count).

Seen under load: a conversation whose turn failed was retried at once, forever, writing
15,000 tracebacks in 100 s. Each failure now pushes the next attempt further out (capped),
and the log says it once per interval however many conversations fail together.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Hashable
from dataclasses import dataclass, field


@dataclass(slots=True)
class Backoff:
    """When each key may be tried again after consecutive failures."""

    base_s: float = 0.5
    cap_s: float = 30.0
    _failures: dict[Hashable, int] = field(default_factory=dict)
    _not_before: dict[Hashable, float] = field(default_factory=dict)

    def failed(self, key: Hashable) -> float:
        """Record a failure; returns the delay before the next attempt."""
        failures = self._failures.get(key, 0) + 1
        self._failures[key] = failures
        delay = self.delay(failures)
        self._not_before[key] = time.monotonic() + delay
        return delay

    def delay(self, failures: int) -> float:
        # "Full jitter" between half and the whole step: processes that failed together
        # (a database restart) do not all come back at the same instant.
        step: float = min(self.cap_s, self.base_s * 2.0 ** min(failures - 1, 30))
        return step * (0.5 + random.random() / 2)

    def succeeded(self, key: Hashable) -> None:
        self._failures.pop(key, None)
        self._not_before.pop(key, None)

    def wait_left(self, key: Hashable) -> float:
        """Seconds until `key` may be tried again (0 when it may now)."""
        not_before = self._not_before.get(key)
        if not_before is None:
            return 0.0
        return max(0.0, not_before - time.monotonic())

    def failures(self, key: Hashable) -> int:
        return self._failures.get(key, 0)


@dataclass(slots=True)
class FailureLog:
    """At most one ERROR (with traceback) per `interval_s`; the failures in between are
    counted and reported with the next one."""

    logger: logging.Logger
    interval_s: float = 60.0
    _last: float = field(default=-1e18)
    _suppressed: int = 0

    def failure(self, message: str, *args: object) -> None:
        now = time.monotonic()
        if now - self._last < self.interval_s:
            self._suppressed += 1
            self.logger.debug(message, *args, exc_info=True)
            return
        if self._suppressed:
            message += f" ({self._suppressed} similar failures not logged before this one)"
        self._last, self._suppressed = now, 0
        self.logger.error(message, *args, exc_info=True)
