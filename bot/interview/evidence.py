"""Checking what the model quotes against what the candidate wrote.

A quote counts only when it is in the candidate's own text for that question, compared
with whitespace, case and punctuation normalised away (models re-space, re-case and drop
commas when they copy), and long enough to mean something.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from bot.lang import CJK as _CJK

MIN_QUOTE_CHARS = 8  # normalised characters (CJK counting two): "yes" or "the" prove nothing
MIN_SUBSTANTIVE_WORDS = 4

_SPACE = re.compile(r"\s+")
# A sentence ends at . ! ? and a space, at their full-width forms (Chinese puts no space
# after them), or at a line break; "3.5", "e.g. this" and "i.e. that" do not end one.
_SENTENCE_END = re.compile(r"(?<!e\.g\.)(?<!i\.e\.)(?<=[.!?])\s+|(?<=[。！？])\s*|\n+")
MAX_SENTENCES = 60


def normalise(text: str) -> str:
    """Casefolded, punctuation and symbols dropped, whitespace runs as one space."""
    kept = "".join(" " if unicodedata.category(ch)[0] in "PSZ" else ch for ch in text.casefold())
    return _SPACE.sub(" ", kept).strip()


def is_verbatim(quote: str, texts: Sequence[str]) -> bool:
    """Whether `quote` is in `texts` (normalised), one of them or running from one into the
    next (an answer and its follow-up answer, as the model saw them), and long enough."""
    wanted = normalise(quote)
    return _long_enough(wanted) and wanted in normalise(" ".join(texts))


def _long_enough(normalised: str) -> bool:
    # A Chinese character carries about what two Latin letters do.
    return len(normalised.replace(" ", "")) + len(_CJK.findall(normalised)) >= MIN_QUOTE_CHARS


def sentences(texts: Sequence[str]) -> list[str]:
    """The candidate's sentences, in order, across an answer and its follow-up answers:
    what `judging.locate` numbers. Pieces too short to mean anything are left out."""
    found: list[str] = []
    for text in texts:
        for piece in _SENTENCE_END.split(text):
            piece = piece.strip()
            if _long_enough(normalise(piece)):  # a piece of the text: verbatim already
                found.append(piece)
    return found[:MAX_SENTENCES]


def without_cut_end(quote: str, limit: int) -> str:
    """A quote that fills the schema's maxLength may end in a word the server's guided
    decoding cut or bent to fit (Qwen 1.5B wrote "One event loop can jolly" for "can
    juggle" at exactly 160 characters): that last word is not the candidate's, so it goes
    (a Chinese quote loses its last character) and the rest is verified as usual."""
    quote = quote.strip()
    if len(quote) < limit:
        return quote
    if _CJK.search(quote[-1]):
        return quote[:-1]
    head, _, _ = quote.rpartition(" ")
    return head.rstrip(" ,;:") or quote


def word_count(text: str) -> int:
    """Words in Latin script; Chinese, written without spaces, counts two characters a word."""
    cjk = len(_CJK.findall(text))
    return len(_CJK.sub(" ", text).split()) + cjk // 2


def cut_at_word(text: str, limit: int) -> str:
    """`text` within `limit` characters, cut at a word boundary with an ellipsis."""
    text = _SPACE.sub(" ", text).strip()
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    # Chinese has no spaces: there any character is a boundary.
    if space > limit // 2 and not _CJK.search(cut[space:]):
        cut = cut[:space]
    return cut.rstrip(" ,;:") + "…"


def remove_quoted(text: str, shown: str) -> str:
    """`text` without `shown` (what the candidate was quoted, from their résumé), wherever
    they repeated it, however re-spaced, re-cased or re-punctuated: a repeated résumé line
    is no evidence of their own."""
    words = normalise(shown).split()
    if not words:
        return text
    gap = r"[\W_]*" if _CJK.search(shown) else r"[\W_]+"
    pattern = gap.join(
        r"[\W_]*".join(map(re.escape, word)) if _CJK.search(word) else re.escape(word)
        for word in words
    )
    kept, found = re.subn(pattern, " ", text, flags=re.IGNORECASE)
    if not found:
        return text
    return kept.strip() if normalise(kept) else ""  # nothing but punctuation left
