"""Reading a file into a title and sections: one reader per format, chosen by suffix.

A section is a heading path and the text under it. A new format is one more reader in
`READERS`, nothing else changes.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Section:
    headings: tuple[str, ...]
    text: str


@dataclass(frozen=True, slots=True)
class ParsedDocument:
    title: str
    sections: list[Section] = field(default_factory=list)


class UnreadableDocument(Exception):
    """The file could not be parsed (a broken PDF, undecodable text)."""


_MD_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


class _Outline:
    """Sections as a document is read: lines gather under the current heading path."""

    def __init__(self) -> None:
        self.sections: list[Section] = []
        self.path: list[str] = []
        self.lines: list[str] = []

    def line(self, text: str) -> None:
        self.lines.append(text)

    def heading(self, depth: int, text: str) -> None:
        """A heading `depth` levels under the title (0: the first level)."""
        self.flush()
        self.path = [*self.path[:depth], text]

    def title(self) -> None:
        """The document's title: what follows is under no heading yet."""
        self.flush()
        self.path = []

    def flush(self) -> list[Section]:
        body = "\n".join(self.lines).strip()
        if body:
            self.sections.append(Section(tuple(self.path), body))
        self.lines.clear()
        return self.sections


def read_markdown(data: bytes, fallback_title: str) -> ParsedDocument:
    outline = _Outline()
    title = ""
    in_code = False
    for line in _decode(data).splitlines():
        if line.strip().startswith("```"):
            in_code = not in_code
        match = None if in_code else _MD_HEADING.match(line)
        if match is None:
            outline.line(line)
            continue
        level, heading = len(match.group(1)), match.group(2).strip()
        if level == 1 and not title:
            title = heading
            outline.title()
            continue
        outline.heading(max(level - 2, 0), heading)  # "##" is the first level under the title
    return ParsedDocument(title or fallback_title, outline.flush())


def read_text(data: bytes, fallback_title: str) -> ParsedDocument:
    text = _decode(data).strip()
    first, _, rest = text.partition("\n")
    title = first.strip() if first.strip() and len(first) <= 120 and rest.strip() else ""
    body = rest if title else text
    return ParsedDocument(title or fallback_title, [Section((), body.strip())] if body else [])


class _HtmlText(HTMLParser):
    """Headings become sections; script, style and navigation are skipped."""

    SKIP = frozenset({"script", "style", "nav", "header", "footer", "noscript", "template"})
    HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
    BLOCKS = frozenset({"p", "div", "li", "tr", "br", "section", "article", "table", "ul", "ol"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.title = ""
        self.sections: list[Section] = []
        self._path: list[str] = []
        self._lines: list[str] = []
        self._skip = 0
        self._in_title = False
        self._h1_seen = False
        self._heading: tuple[int, list[str]] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self._skip += 1
        elif tag == "title":
            self._in_title = True
        elif tag in self.HEADINGS:
            self._flush()
            self._heading = (int(tag[1]), [])
        elif tag in self.BLOCKS:
            self._lines.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP:
            self._skip = max(self._skip - 1, 0)
        elif tag == "title":
            self._in_title = False
        elif tag in self.HEADINGS and self._heading is not None:
            level, words = self._heading
            heading = " ".join("".join(words).split())
            self._heading = None
            if level == 1:  # the first <h1> names the page better than a site's <title>
                self.title = heading if not self._h1_seen else self.title
                self._h1_seen = True
                self._path = []
            elif heading:
                self._path = [*self._path[: max(level - 2, 0)], heading]

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if self._in_title:
            self.title = self.title or data.strip()
        elif self._heading is not None:
            self._heading[1].append(data)
        else:
            self._lines.append(data)

    def _flush(self) -> None:
        raw = "".join(self._lines)
        body = "\n".join(" ".join(line.split()) for line in raw.splitlines() if line.strip())
        if body:
            self.sections.append(Section(tuple(self._path), body))
        self._lines = []

    def close(self) -> None:
        super().close()
        self._flush()


def read_html(data: bytes, fallback_title: str) -> ParsedDocument:
    parser = _HtmlText()
    parser.feed(_decode(data))
    parser.close()
    return ParsedDocument(parser.title or fallback_title, parser.sections)


def read_pdf(data: bytes, fallback_title: str) -> ParsedDocument:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        pages = [page.extract_text() or "" for page in reader.pages]
        metadata_title = (reader.metadata.title if reader.metadata else None) or ""
    except (PdfReadError, ValueError, KeyError, TypeError) as exc:
        raise UnreadableDocument(f"PDF: {type(exc).__name__}") from exc
    text = "\n".join(pages).strip()
    first_line = text.partition("\n")[0].strip()
    title = metadata_title.strip() or (first_line if len(first_line) <= 120 else "")
    return ParsedDocument(title or fallback_title, [Section((), text)] if text else [])


_DOCX_HEADING = re.compile(r"^Heading (\d)$")


def read_docx(data: bytes, fallback_title: str) -> ParsedDocument:
    """Word documents: the Title style (else the first Heading 1) is the title, Heading N
    styles make the heading path, tables are read row by row."""
    import zipfile

    import docx

    try:
        document = docx.Document(io.BytesIO(data))
    except (KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise UnreadableDocument(f"DOCX: {type(exc).__name__}") from exc
    outline = _Outline()
    title = (document.core_properties.title or "").strip()
    for paragraph in document.paragraphs:
        style = paragraph.style.name if paragraph.style is not None else ""
        heading = _DOCX_HEADING.match(style or "")
        if style == "Title" and paragraph.text.strip():
            title = title or paragraph.text.strip()
            continue
        if heading is None:
            outline.line(paragraph.text)
            continue
        level = int(heading.group(1))
        if level == 1 and not title:
            title = paragraph.text.strip()
            outline.title()
            continue
        outline.heading(level - 1, paragraph.text.strip())
    for table in document.tables:
        for row in table.rows:
            outline.line(" | ".join(cell.text.strip() for cell in row.cells))
    return ParsedDocument(title or fallback_title, outline.flush())


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise UnreadableDocument("text is neither UTF-8 nor GB18030")


Reader = Callable[[bytes, str], ParsedDocument]
READERS: dict[str, Reader] = {
    ".md": read_markdown,
    ".markdown": read_markdown,
    ".txt": read_text,
    ".html": read_html,
    ".htm": read_html,
    ".pdf": read_pdf,
    ".docx": read_docx,
}


def reader_for(path: Path) -> Reader | None:
    return READERS.get(path.suffix.lower())
