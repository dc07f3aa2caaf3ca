"""Cutting a long reply into messages Slack accepts, at natural boundaries.

The cut for a prefix never moves once the text is longer than the limit, so a reply that
grows while streaming keeps its earlier messages unchanged.
"""

from __future__ import annotations

FALLBACK_PART_CHARS = 3_900  # one chat.postMessage/chat.update message: readable, well under 4k
STREAM_PART_CHARS = 11_500  # one streamed message: under chat.*Stream's 12,000 characters


def cut_point(text: str, limit: int) -> int:
    """Where to end the first part of `text` (len(text) when it fits)."""
    if len(text) <= limit:
        return len(text)
    window = text[:limit]
    for separator in ("\n\n", "\n", ". ", " "):
        at = window.rfind(separator)
        if at >= limit // 2:
            return at + len(separator)
    return limit


def split_text(text: str, limit: int = FALLBACK_PART_CHARS) -> list[str]:
    parts: list[str] = []
    rest = text
    while rest:
        cut = cut_point(rest, limit)
        parts.append(rest[:cut])
        rest = rest[cut:]
    return parts
