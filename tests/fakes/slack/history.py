"""Reading a conversation back (conversations.history, conversations.replies) and message
metadata, as Slack does them.

Metadata (`{"event_type": ..., "event_payload": {...}}`, a JSON object or, form-encoded, a
JSON string) is checked when a message is posted, updated or its stream stopped: what is
not a JSON object is `invalid_metadata_format`; an object without a non-empty string
`event_type` and an object `event_payload`, with other keys, or with payload values that
are not strings, numbers, booleans, objects of those or lists of such objects, is
`invalid_metadata_schema`. A message keeps its metadata out of the reads unless they ask
with `include_all_metadata`. The reads need the channel type's `*:history` scope.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from tests.fakes.slack.state import ApiError, FakeMessage

if TYPE_CHECKING:
    from tests.fakes.slack.server import FakeSlack

JSONBody = dict[str, Any]
METADATA_KEYS = frozenset({"event_type", "event_payload"})
TRUE = frozenset({"1", "true", "True"})


def metadata_of(params: JSONBody) -> dict[str, Any] | None:
    """The call's `metadata`, checked; None when it has none."""
    raw = params.get("metadata")
    if raw is None or raw == "":
        return None
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            raise ApiError("invalid_metadata_format") from None
    if not isinstance(raw, dict):
        raise ApiError("invalid_metadata_format")
    event_type, payload = raw.get("event_type"), raw.get("event_payload")
    if (
        set(raw) != METADATA_KEYS
        or not isinstance(event_type, str)
        or not event_type.strip()
        or not isinstance(payload, dict)
        or not all(isinstance(k, str) and _payload_value(v) for k, v in payload.items())
    ):
        raise ApiError("invalid_metadata_schema")
    return {"event_type": event_type, "event_payload": payload}


def _scalar(value: object) -> bool:
    return isinstance(value, str | int | float | bool)


def _flat_object(value: object) -> bool:
    return isinstance(value, dict) and all(_scalar(v) for v in value.values())


def _payload_value(value: object) -> bool:
    if _scalar(value) or _flat_object(value):
        return True
    return isinstance(value, list) and all(_flat_object(v) for v in value)


def _need_history_scope(slack: FakeSlack, channel: str) -> None:
    scope = {"C": "channels:history", "G": "groups:history", "D": "im:history"}.get(
        channel[:1], "mpim:history"
    )
    if scope not in slack.scopes:
        raise ApiError("missing_scope")


def _window(params: JSONBody) -> tuple[float, float, int, bool]:
    oldest = float(params.get("oldest") or 0)
    latest = float(params.get("latest") or 1e12)
    limit = int(params.get("limit") or 100)
    metadata = (
        params.get("include_all_metadata") is True
        or str(params.get("include_all_metadata")) in TRUE
    )
    return oldest, latest, limit, metadata


def _as_read(slack: FakeSlack, message: FakeMessage, metadata: bool) -> JSONBody:
    body: JSONBody = {"type": "message", "ts": message.ts, "text": message.text}
    if message.user:
        body["user"] = message.user
    if message.bot_id:
        body["bot_id"] = message.bot_id
    replies = [
        m
        for m in slack.workspace.messages
        if m.channel == message.channel and m.thread_ts == message.ts and m.ts != message.ts
    ]
    if replies:  # a thread's parent, as Slack shows it
        body |= {
            "thread_ts": message.ts,
            "reply_count": len(replies),
            "latest_reply": replies[-1].ts,
            "reply_users": sorted({m.user for m in replies if m.user}),
        }
    elif message.thread_ts:
        body["thread_ts"] = message.thread_ts
    if metadata and message.metadata is not None:
        body["metadata"] = message.metadata
    return body


async def conversations_history(slack: FakeSlack, params: JSONBody) -> JSONBody:
    """Top-level messages (thread parents included, their replies not), newest first."""
    channel = params.get("channel") or ""
    if not channel:
        raise ApiError("channel_not_found")
    _need_history_scope(slack, channel)
    oldest, latest, limit, metadata = _window(params)
    found = [
        m
        for m in reversed(slack.workspace.messages)
        if m.channel == channel
        and m.ephemeral_for is None
        and (m.thread_ts is None or m.thread_ts == m.ts)
        and oldest < float(m.ts) < latest
    ]
    return {
        "messages": [_as_read(slack, m, metadata) for m in found[:limit]],
        "has_more": len(found) > limit,
    }


async def conversations_replies(slack: FakeSlack, params: JSONBody) -> JSONBody:
    """A thread: its parent first, then the replies in the window, oldest first."""
    channel, ts = params.get("channel") or "", params.get("ts") or ""
    if not channel:
        raise ApiError("channel_not_found")
    if not ts:
        raise ApiError("missing_argument_ts")
    _need_history_scope(slack, channel)
    oldest, latest, limit, metadata = _window(params)
    parent = slack.workspace.find(channel, ts)
    replies = [
        m
        for m in slack.workspace.messages
        if m.channel == channel
        and m.thread_ts == ts
        and m.ts != ts
        and m.ephemeral_for is None
        and oldest < float(m.ts) < latest
    ]
    if parent is None and not replies:
        raise ApiError("thread_not_found")
    found = ([parent] if parent is not None else []) + replies
    return {
        "messages": [_as_read(slack, m, metadata) for m in found[:limit]],
        "has_more": len(found) > limit,
    }
