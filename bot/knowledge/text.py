"""Lexical terms and language of a text, the same for documents and questions.

Chinese has no spaces, so a run of Chinese characters becomes its overlapping character
bigrams ("年假天数" -> "年假 假天 天数"): no segmenter dictionary to ship, and a word of two
characters, the most common length, always matches itself. Latin text becomes lowercased
words without a few very common English words (PostgreSQL's ts_rank has no IDF to discount
them). The terms are stored space-separated, so SQLite FTS5's unicode61 tokenizer and
PostgreSQL's 'simple' configuration both take them as they are.
"""

from __future__ import annotations

import re

from bot.lang import CJK as _CJK
from bot.lang import CJK_CLASS as _CJK_CLASS
from bot.lang import detect_lang

_TOKEN = re.compile(f"[{_CJK_CLASS}]+|[A-Za-z0-9]+")
# Single characters and particles that carry no topic in a help-desk question.
_ZH_STOP = frozenset("的了吗呢吧啊是在有我你他她它们和与或及就都也很要会能可以这那么什哪怎")
_EN_STOP = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "of",
        "to",
        "in",
        "on",
        "at",
        "for",
        "from",
        "by",
        "with",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "do",
        "does",
        "did",
        "i",
        "me",
        "my",
        "we",
        "our",
        "you",
        "your",
        "he",
        "she",
        "it",
        "its",
        "they",
        "them",
        "their",
        "this",
        "that",
        "these",
        "those",
        "what",
        "which",
        "who",
        "whom",
        "how",
        "when",
        "where",
        "why",
        "can",
        "could",
        "should",
        "would",
        "will",
        "shall",
        "may",
        "might",
        "must",
        "have",
        "has",
        "had",
        "not",
        "no",
        "yes",
        "if",
        "then",
        "so",
        "than",
        "as",
        "about",
        "into",
        "there",
        "here",
        "any",
        "some",
        "get",
        "got",
        "please",
    ]
)


def terms(text: str) -> list[str]:
    """The lexical terms of `text`, in order, repeats kept (term frequency counts)."""
    out: list[str] = []
    for match in _TOKEN.finditer(text):
        token = match.group()
        if _CJK.match(token):
            if len(token) == 1:
                if token not in _ZH_STOP:
                    out.append(token)
                continue
            out.extend(
                token[i : i + 2]
                for i in range(len(token) - 1)
                if not (token[i] in _ZH_STOP and token[i + 1] in _ZH_STOP)
            )
        else:
            word = token.lower()
            if word not in _EN_STOP:
                out.append(word)
    return out


def query_terms(text: str, limit: int = 32) -> list[str]:
    """Distinct terms of a question, in order, at most `limit` (a bounded OR query)."""
    seen: dict[str, None] = {}
    for term in terms(text):
        seen.setdefault(term, None)
    return list(seen)[:limit]


def specific_terms(text: str) -> list[str]:
    """The question's terms that name one thing: codes and numbers (NG-417, HW-07, 2027),
    and Latin words inside a Chinese question (VPN, PeopleDesk). Generic words ("leave",
    "深圳") match many passages, mostly in the question's own language, and would pull a
    passage in that language above the right one in the other; the vectors rank those."""
    chinese = detect_lang(text) == "zh"
    return [
        term
        for term in query_terms(text)
        if any(ch.isdigit() for ch in term) or (chinese and term.isascii() and len(term) > 1)
    ]
