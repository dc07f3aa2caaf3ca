"""Text shaping for Telegram: splitting under the length limit, and a safe Markdown -> HTML.

Telegram counts message length in UTF-16 code units after entity parsing, so the splitter
measures that way (an emoji counts twice) and splits the plain text before formatting.
"""

from __future__ import annotations

import html
import re

MAX_MESSAGE_UTF16 = 4096

_SENTENCE_END = re.compile(r"[.!?…。！？](?:[\"'”’)\]]*)(?=\s)|[。！？]")


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _prefix_within(text: str, limit: int) -> int:
    """The length (in code points) of the longest prefix of `text` within `limit` UTF-16 units."""
    units = 0
    for index, char in enumerate(text):
        units += 2 if ord(char) > 0xFFFF else 1
        if units > limit:
            return index
    return len(text)


def _cut_point(window: str) -> int:
    """Where to end a part inside `window`: a paragraph, a line, a sentence, a word, or hard."""
    floor = len(window) // 3  # a cut much earlier than that wastes a whole message
    for separator in ("\n\n", "\n"):
        at = window.rfind(separator)
        if at > floor:
            return at + len(separator)
    sentence_ends = [match.end() for match in _SENTENCE_END.finditer(window)]
    if sentence_ends and sentence_ends[-1] > floor:
        return sentence_ends[-1]
    at = max(window.rfind(" "), window.rfind("\t"))
    if at > floor:
        return at + 1
    return len(window)


def split_text(text: str, limit: int = MAX_MESSAGE_UTF16) -> list[str]:
    """Split `text` into parts of at most `limit` UTF-16 units at natural boundaries.

    Greedy from the start, so a part, once its text is longer than the limit, never changes
    as more text is appended: streaming can finish earlier parts for good.
    """
    parts: list[str] = []
    rest = text.strip()
    while rest:
        if utf16_len(rest) <= limit:
            parts.append(rest)
            break
        window = rest[: _prefix_within(rest, limit)]
        cut = _cut_point(window)
        part = rest[:cut].rstrip()
        if part:
            parts.append(part)
        rest = rest[cut:].lstrip()
    return parts


_CODE_BLOCK = re.compile(r"```[^\n`]*\n?(.*?)```", re.DOTALL)
_INLINE_CODE = re.compile(r"`([^`\n]+)`")
_BOLD = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*", re.DOTALL)


def _inline_to_html(text: str) -> str:
    """Inline code and bold, for text outside code blocks."""
    pieces: list[str] = []
    position = 0
    for match in _INLINE_CODE.finditer(text):
        pieces.append(_bold_to_html(text[position : match.start()]))
        pieces.append(f"<code>{html.escape(match.group(1), quote=False)}</code>")
        position = match.end()
    pieces.append(_bold_to_html(text[position:]))
    return "".join(pieces)


def _bold_to_html(text: str) -> str:
    pieces: list[str] = []
    position = 0
    for match in _BOLD.finditer(text):
        pieces.append(html.escape(text[position : match.start()], quote=False))
        pieces.append(f"<b>{html.escape(match.group(1), quote=False)}</b>")
        position = match.end()
    pieces.append(html.escape(text[position:], quote=False))
    return "".join(pieces)


def markdown_to_html(text: str) -> str:
    """Escape everything, then turn a small, safe Markdown subset into Telegram HTML.

    Only complete pairs are converted (``` blocks, `code`, **bold**); a lone marker stays
    literal text, so the result always has balanced tags.
    """
    pieces: list[str] = []
    position = 0
    for match in _CODE_BLOCK.finditer(text):
        pieces.append(_inline_to_html(text[position : match.start()]))
        code = match.group(1).rstrip("\n")
        pieces.append(f"<pre>{html.escape(code, quote=False)}</pre>")
        position = match.end()
    pieces.append(_inline_to_html(text[position:]))
    return "".join(pieces)
