"""Calibration: how often the interview's recommendation agreed with the hiring manager's
decision, per role, as a confusion table and Cohen's kappa.

A recommendation is advance | hold | reject and a decision advance | needs_review | reject;
`hold` and `needs_review` are the same category (a person looks again). Each finished
interview counts once: its latest ok evaluation against the latest decision on it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from bot.interview.report import EvaluationReport
from bot.interview.state import InterviewState
from bot.store.api import ConversationStatus, Store

CATEGORIES = ("advance", "hold", "reject")
DECISION_CATEGORY = {"advance": "advance", "needs_review": "hold", "reject": "reject"}


def cohens_kappa(pairs: Iterable[tuple[str, str]], categories: Sequence[str]) -> float | None:
    """Cohen's kappa of (rater A, rater B) labels: (p_o - p_e) / (1 - p_e).

    None when there is nothing to compare or chance agreement is already certain (both
    raters used one and the same label throughout), where kappa is undefined."""
    counted = list(pairs)
    n = len(counted)
    if n == 0:
        return None
    observed = sum(a == b for a, b in counted) / n
    first = Counter(a for a, _ in counted)
    second = Counter(b for _, b in counted)
    expected = sum(first[c] * second[c] for c in categories) / (n * n)
    if expected >= 1.0:
        return None
    return (observed - expected) / (1.0 - expected)


@dataclass(frozen=True, slots=True)
class RoleCalibration:
    role: str
    # (recommendation, decision category) -> count
    table: dict[tuple[str, str], int] = field(default_factory=dict)

    @property
    def decided(self) -> int:
        return sum(self.table.values())

    @property
    def agreed(self) -> int:
        return sum(count for (rec, dec), count in self.table.items() if rec == dec)

    @property
    def agreement(self) -> float | None:
        return self.agreed / self.decided if self.decided else None

    @property
    def kappa(self) -> float | None:
        pairs = [pair for pair, count in self.table.items() for _ in range(count)]
        return cohens_kappa(pairs, CATEGORIES)


async def calibration(store: Store) -> list[RoleCalibration]:
    """One entry per role with at least one decided interview, sorted by role."""
    tables: dict[str, Counter[tuple[str, str]]] = {}
    finished = await store.list_conversations(
        flow="interview", statuses=(ConversationStatus.FINISHED,)
    )
    for conversation in finished:
        ok = [e for e in await store.evaluations_for(conversation.id) if e.status == "ok"]
        if not ok:
            continue
        latest = ok[-1]
        decisions = await store.decisions(latest.id)
        if not decisions:
            continue
        report = EvaluationReport.from_stored(latest.data)
        decided = DECISION_CATEGORY.get(decisions[-1].decision)
        if report.recommendation is None or decided is None:
            continue
        role = report.role or InterviewState.from_stored(conversation.state).role_id or "?"
        tables.setdefault(role, Counter())[(report.recommendation, decided)] += 1
    return [RoleCalibration(role, dict(tables[role])) for role in sorted(tables)]


def format_calibration(roles: Sequence[RoleCalibration]) -> str:
    """Plain text for the terminal: per role, agreement, kappa and the confusion table."""
    if not roles:
        return "No decided interviews yet: calibration needs hiring managers' decisions."
    lines: list[str] = []
    header = "recommendation \\ decision"
    labels = ("advance", "needs_review", "reject")
    for entry in roles:
        agreement = entry.agreement or 0.0
        kappa = "n/a" if entry.kappa is None else f"{entry.kappa:.2f}"
        lines.append(
            f"{entry.role}: {entry.agreed} of {entry.decided} agreed ({agreement:.0%}), "
            f"Cohen's kappa {kappa}"
        )
        lines.append(f"  {header:<26}" + "".join(f"{label:>14}" for label in labels))
        for rec in CATEGORIES:
            counts = "".join(f"{entry.table.get((rec, dec), 0):>14}" for dec in CATEGORIES)
            lines.append(f"  {rec:<26}{counts}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
