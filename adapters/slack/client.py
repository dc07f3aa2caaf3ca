"""The Web API client: slack-sdk's AsyncWebClient pointed at BOT_SLACK_API_URL, retrying
429s after Retry-After (slack-sdk only retries connection errors by default)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from adapters.slack.mrkdwn import to_mrkdwn
from bot.config import Settings
from bot.errors import ConfigError, DeliveryBlocked

log = logging.getLogger(__name__)

SLACK_API_URL = "https://slack.com/api/"
RATE_LIMIT_RETRIES = 4

# Slack will not deliver to this conversation any more: the engine marks it blocked.
BLOCKED_ERRORS = frozenset(
    {
        "account_inactive",
        "user_disabled",
        "is_archived",
        "channel_not_found",
        "not_in_channel",
        "cannot_dm_bot",
        "user_not_found",
        "team_access_not_granted",
    }
)


def api_base_url(settings: Settings) -> str:
    """slack-sdk joins base_url and the method name, so the base must end with a slash."""
    return (settings.slack_api_url or SLACK_API_URL).rstrip("/") + "/"


def build_web_client(settings: Settings, *, wait_on_rate_limits: bool = True) -> AsyncWebClient:
    """The client; `wait_on_rate_limits=False` gives the one for interim edits, which skip
    an edit on a 429 (the text waits for a later one) instead of holding the reply up."""
    if settings.slack_bot_token is None:
        raise ConfigError("BOT_SLACK_BOT_TOKEN: required for the Slack adapter")
    handlers: list[Any] = [AsyncConnectionErrorRetryHandler(max_retry_count=2)]
    if wait_on_rate_limits:
        handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES))
    return AsyncWebClient(
        token=settings.slack_bot_token.get_secret_value(),
        base_url=api_base_url(settings),
        retry_handlers=handlers,
    )


def error_of(failure: SlackApiError) -> str:
    return str(failure.response.get("error", "")) if failure.response is not None else ""


async def call_slack(
    call: Callable[[], Awaitable[AsyncSlackResponse]], *, attempts: int = 3
) -> AsyncSlackResponse:
    """One Web API call that must not be dropped: a 429 that outlasts the client's own
    retries waits Retry-After and tries again; a blocked conversation raises DeliveryBlocked."""
    for attempt in range(attempts):
        try:
            return await call()
        except SlackApiError as failure:
            error = error_of(failure)
            if error in BLOCKED_ERRORS:
                raise DeliveryBlocked(error) from failure
            if error != "ratelimited" or attempt == attempts - 1:
                raise
            retry_after = retry_after_of(failure)
            log.warning("slack: still rate limited; waiting %.0f s", retry_after)
            await asyncio.sleep(retry_after)
    raise AssertionError("unreachable")


# What Slack (or a simulator that predates `markdown_text`) answers when it will not take
# `markdown_text`: the same content goes again as `text` in mrkdwn.
MARKDOWN_REFUSED = frozenset(
    {"missing_argument", "invalid_arguments", "no_text", "unknown_argument", "invalid_markdown"}
)


async def call_with_markdown(
    method: Callable[..., Awaitable[AsyncSlackResponse]],
    markdown: str,
    *,
    attempts: int = 3,
    **params: Any,
) -> AsyncSlackResponse:
    """chat.postMessage / chat.update with `markdown_text`, re-sent as `text` (mrkdwn) when
    the API refuses the field. Nothing was posted by the refused call, so nothing doubles."""
    try:
        return await call_slack(
            partial(method, markdown_text=markdown, **params), attempts=attempts
        )
    except SlackApiError as failure:
        error = error_of(failure)
        if error not in MARKDOWN_REFUSED and not error.startswith("missing_argument"):
            raise
        log.warning("slack: markdown_text refused (%s); sending it as mrkdwn text", error)
    return await call_slack(partial(method, text=to_mrkdwn(markdown), **params), attempts=attempts)


def retry_after_of(failure: SlackApiError) -> float:
    value = failure.response.headers.get("Retry-After", "1") if failure.response else "1"
    if isinstance(value, list):
        value = value[0] if value else "1"
    try:
        return max(1.0, float(value))
    except ValueError:
        return 1.0
