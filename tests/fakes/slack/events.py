"""Event payloads as Slack sends them (Events API envelopes, interactivity payloads) and
the request signature Slack puts on them."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import time
import uuid
from typing import Any

_event_numbers = itertools.count(1)


def new_event_id() -> str:
    return f"Ev{next(_event_numbers):010d}"


def sign(secret: str, timestamp: int, body: str) -> str:
    """The X-Slack-Signature value: v0= HMAC-SHA256 of "v0:{timestamp}:{body}"."""
    base = f"v0:{timestamp}:{body}".encode()
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def signed_headers(secret: str, body: str, timestamp: int | None = None) -> dict[str, str]:
    when = int(time.time()) if timestamp is None else timestamp
    return {
        "X-Slack-Request-Timestamp": str(when),
        "X-Slack-Signature": sign(secret, when, body),
    }


def envelope(
    event: dict[str, Any],
    *,
    team_id: str,
    app_id: str,
    bot_user_id: str,
    event_id: str | None = None,
) -> dict[str, Any]:
    return {
        "token": "verification-token-unused",
        "team_id": team_id,
        "api_app_id": app_id,
        "event": event,
        "type": "event_callback",
        "event_id": event_id or new_event_id(),
        "event_time": int(time.time()),
        "authorizations": [
            {
                "team_id": team_id,
                "user_id": bot_user_id,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": uuid.uuid4().hex,
    }


def user_message(
    *,
    text: str,
    user: str,
    channel: str,
    channel_type: str,
    ts: str,
    team_id: str,
    thread_ts: str | None = None,
    client_msg_id: str | None = None,
    event_type: str = "message",
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": event_type,
        "user": user,
        "text": text,
        "ts": ts,
        "event_ts": ts,
        "channel": channel,
        "team": team_id,
        "client_msg_id": client_msg_id or str(uuid.uuid4()),
        "blocks": [],
    }
    if event_type == "message":
        event["channel_type"] = channel_type
    if thread_ts:
        event["thread_ts"] = thread_ts
    return event


def block_action(
    *,
    user: str,
    channel: str,
    message_ts: str,
    action_id: str,
    value: str,
    team_id: str,
    app_id: str,
    thread_ts: str | None = None,
) -> dict[str, Any]:
    container: dict[str, Any] = {
        "type": "message",
        "message_ts": message_ts,
        "channel_id": channel,
        "is_ephemeral": False,
    }
    message: dict[str, Any] = {"type": "message", "ts": message_ts, "text": ""}
    if thread_ts:
        container["thread_ts"] = thread_ts
        message["thread_ts"] = thread_ts
    return {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower(), "team_id": team_id},
        "api_app_id": app_id,
        "token": "verification-token-unused",
        "container": container,
        "trigger_id": uuid.uuid4().hex,
        "team": {"id": team_id, "domain": "fake"},
        "channel": {"id": channel, "name": channel.lower()},
        "message": message,
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": "actions",
                "value": value,
                "action_ts": str(time.time()),
            }
        ],
    }
