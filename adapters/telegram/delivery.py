"""One Bot API call, made reliably: flood waits honoured, brief outages retried, blocks reported.

Every call the renderer makes goes through `deliver`, so the retry policy is written once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter

from bot.errors import DeliveryBlocked

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    network_attempts: int = 4  # 5xx and network errors: tries in all
    backoff_s: float = 0.5  # doubled after each failed try
    flood_waits: int = 20  # 429s honoured for one call before giving up
    max_flood_wait_s: float = 120.0


def retry_after_seconds(error: RetryAfter) -> float:
    value: int | float | dt.timedelta = error.retry_after
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    return float(value)


def is_parse_error(error: BadRequest) -> bool:
    return "can't parse entities" in error.message.lower()


def is_gone(error: BadRequest) -> bool:
    """The chat is not there to deliver to, now or later."""
    message = error.message.lower()
    return "chat not found" in message or "user is deactivated" in message


def is_not_modified(error: BadRequest) -> bool:
    return "message is not modified" in error.message.lower()


async def deliver(
    call: Callable[[], Awaitable[T]], what: str, policy: RetryPolicy = RetryPolicy()
) -> T:
    """Run `call` until it succeeds. A 429 waits `retry_after` and repeats the same call (no
    text is lost); 5xx and network errors retry with backoff; 403 raises DeliveryBlocked;
    other 400s are the caller's to handle."""
    network_failures = 0
    flood_waits = 0
    while True:
        try:
            return await call()
        except RetryAfter as error:
            flood_waits += 1
            wait = min(retry_after_seconds(error), policy.max_flood_wait_s)
            if flood_waits > policy.flood_waits:
                raise
            log.info("telegram %s: flood control, retrying in %.1f s", what, wait)
            await asyncio.sleep(wait)
        except Forbidden as error:
            log.info("telegram %s: forbidden (%s); delivery blocked", what, error.message)
            raise DeliveryBlocked(error.message) from error
        except BadRequest as error:
            if is_gone(error):
                log.info("telegram %s: %s; delivery blocked", what, error.message)
                raise DeliveryBlocked(error.message) from error
            raise
        except NetworkError as error:
            network_failures += 1
            if network_failures >= policy.network_attempts:
                raise
            delay = policy.backoff_s * 2 ** (network_failures - 1)
            log.warning("telegram %s failed (%s); retry in %.1f s", what, error.message, delay)
            await asyncio.sleep(delay)
