"""Question kinds: what each kind checks in an answer and which follow-up fits a gap.

One strategy object per kind; a new kind is one class here and one entry in `KINDS`.
Reference-point kinds (technical, situational) check the role's hidden reference points;
the behavioural kind checks the STAR parts as well, and counts a part the candidate
labelled ("Result: ...", "结果：...") as present without asking the model.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Protocol

from bot.interview.evidence import word_count
from bot.prompts import EvaluatorTasks, Question
from bot.texts import text

STAR_PARTS = ("situation", "task", "action", "result")
# The order in which a missing STAR part is asked for: what they did, then the outcome.
STAR_PRIORITY = ("action", "result", "situation", "task")
_STAR_LABELS = {
    "situation": r"situation|context|background|情境|情况|背景",
    "task": r"task|goal|任务|目标",
    "action": r"actions?|what i did|行动|做法|我的行动",
    "result": r"results?|outcome|impact|结果|成果",
}
_LABEL = re.compile(
    r"(?:(?m:^)|(?<=[.!?。！？]))\s*[*_#>\-\s]*(?P<label>"
    + "|".join(f"(?P<{part}>{rx})" for part, rx in _STAR_LABELS.items())
    + r")[*_\s]*[:：]\s*",
    re.IGNORECASE,
)
MIN_LABELLED_WORDS = 3


@dataclass(frozen=True, slots=True)
class Item:
    """One thing the extraction checks: a reference point (p1, p2, ...) or a STAR part."""

    key: str
    label: str  # what the model is shown and the report names


@dataclass(frozen=True, slots=True)
class FollowUp:
    key: str  # a text key in bot.texts: a fixed, neutral probe that reveals nothing
    missing: tuple[str, ...]

    def text(self, lang: str) -> str:
        return text(self.key, lang)


class QuestionKind(Protocol):
    def items(self, question: Question) -> list[Item]:
        """What extraction checks for a question of this kind, in a fixed order."""

    def labelled(self, answer: str) -> dict[str, str]:
        """Items the candidate labelled themselves: key -> the labelled text (the quote)."""

    def check_task(self, tasks: EvaluatorTasks, question: Question) -> str:
        """The completeness check's instruction (for follow-ups)."""

    def needs_check(self, labelled: Collection[str]) -> bool:
        """Whether the completeness check can find a gap the labels do not already rule out."""

    def follow_up(
        self, question: Question, missing_points: Collection[int], missing_parts: Collection[str]
    ) -> FollowUp | None:
        """The probe for the gaps found, or None when the gaps are not worth one."""


def reference_items(question: Question) -> list[Item]:
    return [Item(f"p{n}", point) for n, point in enumerate(question.reference_points, 1)]


class ReferencePointKind:
    def __init__(self, name: str) -> None:
        self.name = name

    def items(self, question: Question) -> list[Item]:
        return reference_items(question)

    def labelled(self, answer: str) -> dict[str, str]:
        return {}

    def needs_check(self, labelled: Collection[str]) -> bool:
        return True

    def check_task(self, tasks: EvaluatorTasks, question: Question) -> str:
        return tasks.check_reference_points.format(question=question.id)

    def follow_up(
        self, question: Question, missing_points: Collection[int], missing_parts: Collection[str]
    ) -> FollowUp | None:
        valid = sorted({n for n in missing_points if 1 <= n <= len(question.reference_points)})
        # A follow-up when at least half the reference points are missing, not for one detail.
        if valid and len(valid) * 2 >= len(question.reference_points):
            return FollowUp(f"follow_up_{self.name}", tuple(map(str, valid)))
        return None


class StarKind:
    """Behavioural questions: Situation, Task, Action, Result, then the reference points."""

    def items(self, question: Question) -> list[Item]:
        parts = [Item(part, f"STAR {part}: the candidate's own {part}") for part in STAR_PARTS]
        return parts + reference_items(question)

    def labelled(self, answer: str) -> dict[str, str]:
        found: dict[str, str] = {}
        matches = list(_LABEL.finditer(answer))
        ends = [m.start() for m in matches[1:]] + [len(answer)] if matches else []
        for match, end in zip(matches, ends, strict=True):
            part = next(p for p in STAR_PARTS if match.group(p))
            content = answer[match.end() : end].strip()
            if word_count(content) >= MIN_LABELLED_WORDS and part not in found:
                found[part] = content
        return found

    def needs_check(self, labelled: Collection[str]) -> bool:
        return not set(STAR_PARTS) <= set(labelled)

    def check_task(self, tasks: EvaluatorTasks, question: Question) -> str:
        return tasks.check_star.format(question=question.id)

    def follow_up(
        self, question: Question, missing_points: Collection[int], missing_parts: Collection[str]
    ) -> FollowUp | None:
        missing = tuple(p for p in STAR_PRIORITY if p in set(missing_parts))
        return FollowUp(f"follow_up_star_{missing[0]}", missing) if missing else None


KINDS: dict[str, QuestionKind] = {
    "technical": ReferencePointKind("technical"),
    "situational": ReferencePointKind("situational"),
    "behavioural": StarKind(),
}


def kind_of(question: Question) -> QuestionKind:
    return KINDS[question.kind]
