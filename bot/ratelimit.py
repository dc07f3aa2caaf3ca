"""A per-user rate limit: a token bucket, so a burst is fine and a flood is not.

Over the limit, a message is still stored (nothing a user sent is lost) but as rejected input,
never sent to the model. The user is told once per flood, not once per message: the first
message over the limit carries the notice (RATE_LIMITED), the following ones are set aside
quietly (RATE_LIMITED_QUIET) until the bucket lets a message through again.

The buckets live in this process. With several `chatbot run` processes a user's messages can
be spread over them, so the limit holds per process (at most N times the rate with N
processes); one process per platform connection is the usual deployment.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from bot.domain import Incoming, InputKind

RATE_LIMITED = "rate_limited"
RATE_LIMITED_QUIET = "rate_quiet"
MAX_BUCKETS = 100_000  # full (idle) buckets are forgotten beyond this


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float
    told: bool = False  # the user has had the notice for the current flood


class RateLimiter:
    """`per_minute` messages a minute sustained, `burst` at once; 0 turns it off."""

    def __init__(
        self,
        per_minute: int,
        burst: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_minute = per_minute
        # A small burst: a person may split one thought over a few quick messages.
        self.burst = burst if burst is not None else max(1, math.ceil(per_minute / 2))
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}

    def kind_for(self, incoming: Incoming, kind: str) -> str:
        """The kind to store `incoming` under: `kind`, or a rate-limit rejection.

        Commands are exempt: /cancel, /delete and /help must work during a flood too."""
        if self.per_minute <= 0 or incoming.kind is InputKind.COMMAND:
            return kind
        user = f"{incoming.user.platform.value}:{incoming.user.platform_user_id}"
        return self._take(user) or kind

    def _take(self, user: str) -> str | None:
        now = self._clock()
        bucket = self._buckets.get(user)
        if bucket is None:
            if len(self._buckets) >= MAX_BUCKETS:
                self._forget_full(now)
            bucket = self._buckets[user] = _Bucket(float(self.burst), now)
        rate = self.per_minute / 60.0
        bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.at) * rate)
        bucket.at = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            bucket.told = False
            return None
        if bucket.told:
            return RATE_LIMITED_QUIET
        bucket.told = True
        return RATE_LIMITED

    def _forget_full(self, now: float) -> None:
        rate = self.per_minute / 60.0
        for user, bucket in list(self._buckets.items()):
            if bucket.tokens + (now - bucket.at) * rate >= self.burst:
                del self._buckets[user]
