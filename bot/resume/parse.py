"""PDF and DOCX résumés to the text a person reading them would see.

Text a reader cannot see (white or near-white fill, invisible render mode, a font under 2 pt,
DOCX hidden runs) is a classic way to talk to an automated grader; it is taken out and kept
as a flag for the hiring manager, never passed on.
"""

from __future__ import annotations

import io
import logging
import zipfile
from collections.abc import Sequence
from typing import Any

import docx
import pypdf
from docx.shared import RGBColor
from pydantic import BaseModel, ConfigDict, Field

log = logging.getLogger(__name__)

MIN_VISIBLE_PT = 2.0
NEAR_WHITE = 0.92  # every colour channel at least this light on a white page
MAX_RESUME_BYTES = 10 * 1024 * 1024


class UnreadableResume(Exception):
    """Not a PDF or DOCX we can read; the candidate is asked for one."""


class ParsedResume(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    text: str  # visible text only
    hidden: list[str] = Field(default_factory=list)  # what was invisible, verbatim
    source_format: str


def parse_resume(data: bytes, filename: str) -> ParsedResume:
    if len(data) > MAX_RESUME_BYTES:
        raise UnreadableResume(f"{len(data)} bytes")
    name = filename.lower()
    if data.startswith(b"%PDF") or name.endswith(".pdf"):
        return _parse_pdf(data)
    if zipfile.is_zipfile(io.BytesIO(data)) or name.endswith(".docx"):
        return _parse_docx(data)
    raise UnreadableResume(f"unknown format {filename!r}")


# ---- PDF ---------------------------------------------------------------------------------


class _PdfInk:
    """Follows the fill colour, render mode and font size through a page's content stream
    (pypdf calls `operator` before each operator, `text` for each piece of text shown)."""

    def __init__(self) -> None:
        self.stack: list[tuple[bool, bool]] = []
        self.white = False
        self.invisible = False
        self.visible: list[str] = []
        self.hidden: list[str] = []

    def operator(self, op: bytes, args: Sequence[Any], _cm: Any, _tm: Any) -> None:
        if op == b"q":
            self.stack.append((self.white, self.invisible))
        elif op == b"Q" and self.stack:
            self.white, self.invisible = self.stack.pop()
        elif op in (b"rg", b"g", b"sc", b"scn") and args:
            values = [float(a) for a in args if isinstance(a, int | float)]
            self.white = bool(values) and min(values) >= NEAR_WHITE
        elif op == b"k" and len(args) == 4:
            self.white = max(float(a) for a in args) <= 1 - NEAR_WHITE
        elif op == b"Tr" and args:
            self.invisible = int(args[0]) in (3, 7)  # neither fill nor stroke

    def text(self, text: str, cm: Any, tm: Any, _font: Any, font_size: float) -> None:
        if not text.strip():
            self.visible.append(text)
            return
        scale = abs(float(tm[3]) * float(cm[3])) or 1.0
        tiny = font_size * scale < MIN_VISIBLE_PT
        (self.hidden if self.white or self.invisible or tiny else self.visible).append(text)


def _parse_pdf(data: bytes) -> ParsedResume:
    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        pages = []
        hidden: list[str] = []
        for page in reader.pages:
            ink = _PdfInk()
            page.extract_text(visitor_operand_before=ink.operator, visitor_text=ink.text)
            pages.append("".join(ink.visible))
            hidden.extend(h.strip() for h in ink.hidden if h.strip())
    except (pypdf.errors.PdfReadError, ValueError, KeyError, TypeError) as exc:
        raise UnreadableResume(f"PDF: {type(exc).__name__}") from None
    return ParsedResume(text="\n".join(pages).strip(), hidden=hidden, source_format="pdf")


# ---- DOCX --------------------------------------------------------------------------------


def _run_hidden(run: Any) -> bool:
    font = run.font
    if font.hidden:
        return True
    if font.size is not None and font.size.pt < MIN_VISIBLE_PT:
        return True
    color = font.color.rgb if font.color is not None and font.color.type is not None else None
    if isinstance(color, RGBColor):
        return min(color[0], color[1], color[2]) >= int(255 * NEAR_WHITE)
    return False


def _parse_docx(data: bytes) -> ParsedResume:
    try:
        document = docx.Document(io.BytesIO(data))
    except (KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise UnreadableResume(f"DOCX: {type(exc).__name__}") from None
    paragraphs = list(document.paragraphs)
    for table in document.tables:
        for row in table.rows:
            for cell in row.cells:
                paragraphs.extend(cell.paragraphs)
    lines: list[str] = []
    hidden: list[str] = []
    for paragraph in paragraphs:
        shown = []
        for run in paragraph.runs:
            if _run_hidden(run):
                if run.text.strip():
                    hidden.append(run.text.strip())
            else:
                shown.append(run.text)
        lines.append("".join(shown))
    return ParsedResume(text="\n".join(lines).strip(), hidden=hidden, source_format="docx")
