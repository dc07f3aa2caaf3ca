"""The workspace's chat.update budget, shared by every reply being rendered.

Slack limits chat.update per app and workspace (Tier 3: about 50 a minute), not per
message: ten replies each editing once a second spend it in seconds, and then a final edit
waits out a whole Retry-After window. A token bucket below that limit decides who may edit:
an interim edit (a reply growing) only while tokens beyond a reserve are left, so the
final edits that finish replies almost always find one; a final edit that finds none is
shown another way (a new message, the stale one deleted) instead of waiting.

The same bucket, sized for chat.appendStream, is shared by every native stream: an interim
append waits for a token (the text goes in a larger piece later), the final one never does.
"""

from __future__ import annotations

import time
from collections.abc import Callable

UPDATES_PER_MINUTE = 45.0  # below Slack's ~50: other edits (hiring cards) share the method
# chat.appendStream, shared by every stream: below the 300 a minute the protocol fake holds
# it to (Slack does not publish the method's tier; an assumption, see the README)
APPENDS_PER_MINUTE = 240.0
APPEND_BURST = 20
BURST = 10
FINAL_RESERVE = 3  # tokens interim edits leave for final ones


class EditBudget:
    def __init__(
        self,
        per_minute: float = UPDATES_PER_MINUTE,
        burst: int = BURST,
        reserve: int = FINAL_RESERVE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = per_minute / 60.0
        self.burst, self.reserve, self._clock = float(burst), float(reserve), clock
        self._tokens = float(burst)
        self._at = clock()
        self.interim_skipped = 0  # figures for the bench
        self.finals_rerouted = 0

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now

    def take_interim(self) -> bool:
        self._refill()
        if self._tokens >= 1 + self.reserve:
            self._tokens -= 1
            return True
        self.interim_skipped += 1
        return False

    def take_final(self) -> bool:
        self._refill()
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        self.finals_rerouted += 1
        return False

    def interim_wait_s(self) -> float:
        """How long until an interim edit could be allowed again."""
        self._refill()
        missing = 1 + self.reserve - self._tokens
        return max(0.0, missing / self.rate)

    def rate_limited(self, retry_after_s: float) -> None:
        """Slack said 429 anyway (another process, other edits): nobody edits for a while."""
        self._refill()
        self._tokens = min(self._tokens, 0.0) - retry_after_s * self.rate
