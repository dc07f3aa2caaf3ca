"""Slash commands as Slack delivers them: a signed application/x-www-form-urlencoded POST
to the app's request URL, with a response_url the app answers on (up to 5 times in 30 min),
which the fake serves and records."""

from __future__ import annotations

import uuid
from typing import Any


def slash_command(
    *,
    command: str,
    text: str,
    user_id: str,
    channel_id: str,
    team_id: str,
    app_id: str,
    response_url: str,
) -> dict[str, str]:
    """The form fields of a slash command request (all strings, as Slack sends them)."""
    return {
        "token": "verification-token-unused",
        "team_id": team_id,
        "team_domain": "fake",
        "channel_id": channel_id,
        "channel_name": channel_id.lower(),
        "user_id": user_id,
        "user_name": user_id.lower(),
        "command": command,
        "text": text,
        "api_app_id": app_id,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": uuid.uuid4().hex,
    }


def response_message(body: dict[str, Any]) -> dict[str, Any]:
    """What a response_url POST asks for, with Slack's default: ephemeral."""
    return {"response_type": body.get("response_type") or "ephemeral", **body}
