"""Block Kit primitives under Slack's limits, shared by the hiring channel's messages."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from adapters.slack.splitting import split_text

Block = dict[str, Any]

MAX_BLOCKS = 50
SECTION_MAX_CHARS = 3_000
HEADER_MAX_CHARS = 150
BUTTON_MAX_CHARS = 75
CONTEXT_MAX_CHARS = 3_000


def escape(raw: str) -> str:
    """Slack's mrkdwn control characters, so that quoted text stays text."""
    return raw.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(raw: str, limit: int) -> str:
    return raw if len(raw) <= limit else raw[: limit - 1] + "…"


def sections(body: str) -> list[Block]:
    """`body` (mrkdwn) as one or more section blocks under the per-section limit."""
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": part}}
        for part in split_text(body, SECTION_MAX_CHARS)
        if part.strip()
    ]


def context(body: str) -> Block:
    return {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": clip(body, CONTEXT_MAX_CHARS)}],
    }


def header(body: str) -> Block:
    return {"type": "header", "text": {"type": "plain_text", "text": clip(body, HEADER_MAX_CHARS)}}


def button(label: str, action_id: str, value: str, style: str = "") -> Block:
    element: Block = {
        "type": "button",
        "text": {"type": "plain_text", "text": clip(label, BUTTON_MAX_CHARS)},
        "action_id": action_id,
        "value": value,
    }
    if style:
        element["style"] = style
    return element


def slack_time(moment: datetime) -> str:
    """A date Slack shows in the reader's time zone, UTC in the fallback."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    fallback = aware.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(aware.timestamp())}^{{date_short_pretty}} {{time}}|{fallback}>"


def score_text(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".") if value != int(value) else f"{int(value)}"
