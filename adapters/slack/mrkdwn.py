"""Markdown (what the model writes) -> Slack mrkdwn, for the plain `text` field.

Used when a workspace (or a simulator) refuses `markdown_text`: the reply is re-sent as
`text`, which Slack renders as mrkdwn, so bold, links and headings survive roughly.
"""

from __future__ import annotations

import re

_BOLD = re.compile(r"\*\*(.+?)\*\*|__(.+?)__")
_LINK = re.compile(r"\[([^\]]+)\]\((https?://[^)\s]+)\)")
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*$", re.MULTILINE)
_BULLET = re.compile(r"^(\s*)[*+-]\s+", re.MULTILINE)


def _escape(text: str) -> str:
    # Slack's three control characters in `text`; everything else is literal.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def to_mrkdwn(markdown: str) -> str:
    parts = re.split(r"(```.*?```|`[^`\n]+`)", markdown, flags=re.DOTALL)
    out: list[str] = []
    for index, part in enumerate(parts):
        if index % 2:  # code: escaped, otherwise as written
            out.append(_escape(part))
            continue
        part = _escape(part)
        part = _HEADING.sub(r"*\1*", part)
        part = _BULLET.sub(r"\1• ", part)
        part = _BOLD.sub(lambda m: f"*{m.group(1) or m.group(2)}*", part)
        part = _LINK.sub(r"<\2|\1>", part)
        out.append(part)
    return "".join(out)
