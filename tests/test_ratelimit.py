"""The per-user token bucket, on a clock the test moves."""

from __future__ import annotations

from bot.domain import ConversationKey, Incoming, InputKind, Platform, UserRef
from bot.ratelimit import RATE_LIMITED, RATE_LIMITED_QUIET, RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def incoming(user: str, kind: InputKind = InputKind.TEXT) -> Incoming:
    key = ConversationKey.user_in_chat(Platform.TELEGRAM, user, user)
    return Incoming(key, UserRef(Platform.TELEGRAM, user), kind, "hello")


def test_a_burst_passes_then_one_notice_then_quiet_until_the_bucket_refills() -> None:
    clock = Clock()
    limiter = RateLimiter(20, clock=clock)  # burst: 10
    kinds = [limiter.kind_for(incoming("ann"), "text") for _ in range(13)]
    assert kinds == ["text"] * 10 + [RATE_LIMITED, RATE_LIMITED_QUIET, RATE_LIMITED_QUIET]
    clock.now += 3.0  # 20 a minute: one message every 3 seconds
    assert limiter.kind_for(incoming("ann"), "text") == "text"
    assert limiter.kind_for(incoming("ann"), "text") == RATE_LIMITED  # a new flood: told again
    assert limiter.kind_for(incoming("bob"), "text") == "text"  # per user


def test_commands_are_exempt_and_zero_turns_it_off() -> None:
    clock = Clock()
    limiter = RateLimiter(1, clock=clock)
    assert limiter.kind_for(incoming("ann"), "text") == "text"
    assert limiter.kind_for(incoming("ann", InputKind.COMMAND), "command") == "command"
    assert limiter.kind_for(incoming("ann"), "empty") == RATE_LIMITED
    off = RateLimiter(0, clock=clock)
    assert all(off.kind_for(incoming("ann"), "text") == "text" for _ in range(100))
