"""Replies that can be found again: each message of an outbox reply carries Slack message
metadata naming its outbox row, so a delivery whose earlier attempt's outcome is unknown
(bot/delivery.py) first looks for it in the conversation instead of posting it twice.

A reply posted as parts (split at Slack's limits, buttons under a long text) marks each
part `part` of `parts`; parts are posted in order, so a part found means every one before
it was shown. A reply finished from its stream (chat.stopStream, or the chat.update that
ends a fallback) is marked once, on its last call, as the whole reply: 0 of 1.

The lookup is small on purpose (one page of `LOOKUP_LIMIT` messages since the row was
written, the bot's own only): conversations.history and .replies have tight rate limits
for apps outside the Marketplace (1 a minute, 15 messages). It runs on the client that
does not wait out a 429; any failure (a missing *:history scope, a rate limit, an error)
is the caller's to log, and the reply is posted: a possible duplicate, never a loss.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.streaming import Target

EVENT_TYPE = "chatbot_reply"
LOOKUP_LIMIT = 15
THREADS_LOOKED_INTO = 3  # a top-level DM answered in threads (BOT_SLACK_DM_REPLIES=thread)
CLOCK_SLACK_S = 120.0  # the bot's clock and Slack's may differ: look a little earlier


@dataclass(frozen=True, slots=True)
class Mark:
    """What one posted message says about its reply."""

    outbox_id: int
    part: int = 0
    parts: int = 1

    def metadata(self) -> dict[str, Any]:
        return {
            "event_type": EVENT_TYPE,
            "event_payload": {"outbox_id": self.outbox_id, "part": self.part, "parts": self.parts},
        }

    @property
    def whole(self) -> bool:
        """The reply's last part: everything of it was shown."""
        return self.part >= self.parts - 1


@dataclass(frozen=True, slots=True)
class Marker:
    """Marks for the parts of one delivery; `shown` parts (found from an earlier attempt)
    are skipped."""

    outbox_id: int
    shown: int = 0

    def wants(self, part: int) -> bool:
        return part >= self.shown

    def metadata(self, part: int, parts: int) -> dict[str, Any]:
        return Mark(self.outbox_id, part, parts).metadata()


def marked(marker: Marker | None, part: int, parts: int) -> dict[str, Any]:
    """`metadata=` for the Web API call that posts `part` of `parts`; nothing unmarked."""
    return {"metadata": marker.metadata(part, parts)} if marker is not None else {}


def mark_of(message: dict[str, Any]) -> Mark | None:
    metadata = message.get("metadata")
    if not isinstance(metadata, dict) or metadata.get("event_type") != EVENT_TYPE:
        return None
    payload = metadata.get("event_payload")
    if not isinstance(payload, dict):
        return None
    try:
        return Mark(int(payload["outbox_id"]), int(payload["part"]), int(payload["parts"]))
    except (KeyError, TypeError, ValueError):
        return None


@dataclass(frozen=True, slots=True)
class Identity:
    """Who the bot is on Slack (auth.test): only its own messages count."""

    user_id: str | None = None
    bot_id: str | None = None

    def wrote(self, message: dict[str, Any]) -> bool:
        if self.bot_id is None and self.user_id is None:
            return True
        return (self.bot_id is not None and message.get("bot_id") == self.bot_id) or (
            self.user_id is not None and message.get("user") == self.user_id
        )


async def find_mark(
    client: AsyncWebClient,
    target: Target,
    outbox_id: int,
    since: datetime | None,
    identity: Identity,
    *,
    dm_threads: bool = False,
) -> Mark | None:
    """The furthest part of reply `outbox_id` already in `target`'s conversation, if any.
    Raises what the Web API raises."""
    window: dict[str, Any] = {"include_all_metadata": True, "limit": LOOKUP_LIMIT}
    if since is not None:
        window["oldest"] = f"{since.timestamp() - CLOCK_SLACK_S:.6f}"
    if target.thread_ts:
        response = await client.conversations_replies(
            channel=target.channel, ts=target.thread_ts, **window
        )
        messages = list(response.get("messages") or [])
    else:
        response = await client.conversations_history(channel=target.channel, **window)
        messages = list(response.get("messages") or [])
        if dm_threads:  # the reply may be in the thread under the message it answers
            for parent in _answered_in_threads(messages, identity)[:THREADS_LOOKED_INTO]:
                replies = await client.conversations_replies(
                    channel=target.channel, ts=parent, **window
                )
                messages.extend(replies.get("messages") or [])
    marks = [
        mark
        for message in messages
        if identity.wrote(message)
        and (mark := mark_of(message)) is not None
        and mark.outbox_id == outbox_id
    ]
    return max(marks, key=lambda m: m.part, default=None)


def _answered_in_threads(messages: list[dict[str, Any]], identity: Identity) -> list[str]:
    """Thread parents the bot replied under, newest first (history comes newest first)."""
    parents = []
    for message in messages:
        if not message.get("reply_count") or message.get("thread_ts") != message.get("ts"):
            continue
        repliers = message.get("reply_users") or []
        if identity.user_id is None or identity.user_id in repliers:
            parents.append(str(message["ts"]))
    return parents
