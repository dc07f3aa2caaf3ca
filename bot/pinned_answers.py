"""Pinned answers (`prompts/support/answers.yaml`): the help-desk team's own words for
frequent questions, served without the model, but only when a question matches closely.

"Closely" is deliberately strict, because a wrong pinned answer is worse than a model
answer: after normalisation (NFKC, case folded, punctuation dropped, a few filler words
such as "please", "my", "我", "吗" removed) the question must have the same words in the same
order as one of the patterns. The one slack allowed is a single-letter typo in an English
word of five letters or more ("pasword"); numbers and Chinese characters must be equal, since
one character there ("一楼" / "二楼", "深圳" / "上海") changes the question.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.errors import PromptError

ANSWERS_FILE = Path("support") / "answers.yaml"
TYPO_MIN_LETTERS = 5

_TOKENS = re.compile(r"[a-z]+|[0-9]+|[\u3400-\u9fff\uf900-\ufaff]")
EN_FILLERS = frozenset(
    [
        "a",
        "an",
        "the",
        "please",
        "pls",
        "hi",
        "hello",
        "hey",
        "thanks",
        "thank",
        "you",
        "could",
        "can",
        "would",
        "will",
        "tell",
        "me",
        "i",
        "my",
        "our",
        "is",
        "are",
        "do",
        "does",
        "just",
        "quick",
        "question",
    ]
)
ZH_FILLERS = frozenset("的了吗呢吧啊呀请问我您你")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Patterns(_Strict):
    en: list[str] = Field(default_factory=list)
    zh: list[str] = Field(default_factory=list)


class _Texts(_Strict):
    en: str = Field(min_length=1)
    zh: str = Field(min_length=1)


class PinnedAnswer(_Strict):
    id: str = Field(pattern=r"^[a-z0-9_-]+$")
    patterns: _Patterns
    answer: _Texts
    source: str = Field(min_length=1)

    def text(self, lang: str) -> str:
        return self.answer.zh if lang == "zh" else self.answer.en


class _AnswersFile(_Strict):
    version: int = 1
    answers: list[PinnedAnswer] = Field(default_factory=list)


def tokens(text: str) -> tuple[str, ...]:
    folded = unicodedata.normalize("NFKC", text).casefold()
    return tuple(t for t in _TOKENS.findall(folded) if t not in EN_FILLERS and t not in ZH_FILLERS)


def _one_typo_apart(a: str, b: str) -> bool:
    """One letter replaced, added or dropped, in a long English word."""
    if not (a.isalpha() and b.isalpha() and a.isascii() and b.isascii()):
        return False
    if min(len(a), len(b)) < TYPO_MIN_LETTERS or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b, strict=True)) == 1
    short, long = (a, b) if len(a) < len(b) else (b, a)
    return any(long[:i] + long[i + 1 :] == short for i in range(len(long)))


def close_match(question: tuple[str, ...], pattern: tuple[str, ...]) -> bool:
    if not pattern or len(question) != len(pattern):
        return False
    typos = 0
    for asked, pinned in zip(question, pattern, strict=True):
        if asked == pinned:
            continue
        if not _one_typo_apart(asked, pinned):
            return False
        typos += 1
    return typos <= 1


@dataclass(frozen=True, slots=True)
class PinnedMatch:
    answer: PinnedAnswer
    version: str  # of answers.yaml, stored with the reply


class PinnedAnswers:
    def __init__(self, answers: list[PinnedAnswer], version: str = "") -> None:
        self.answers = answers
        self.version = version
        self._index = [
            (tokens(pattern), answer)
            for answer in answers
            for pattern in (*answer.patterns.en, *answer.patterns.zh)
        ]

    @classmethod
    def load(cls, prompts_dir: Path) -> PinnedAnswers:
        """The file validated (unknown keys refused); no file: no pinned answers."""
        path = prompts_dir / ANSWERS_FILE
        if not path.exists():
            return cls([])
        raw = path.read_bytes()
        try:
            parsed = _AnswersFile.model_validate(yaml.safe_load(raw) or {})
        except (ValidationError, yaml.YAMLError) as exc:
            raise PromptError(f"{path}: {exc}") from None
        ids = [a.id for a in parsed.answers]
        if len(ids) != len(set(ids)):
            raise PromptError(f"{path}: an answer id is used twice")
        return cls(parsed.answers, "pinned-" + hashlib.sha256(raw).hexdigest()[:12])

    def match(self, question: str) -> PinnedMatch | None:
        asked = tokens(question)
        for pattern, answer in self._index:
            if close_match(asked, pattern):
                return PinnedMatch(answer, self.version)
        return None
