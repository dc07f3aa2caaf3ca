"""The fixed rule from competency scores to a recommendation, naming the condition that fired.

advance: average >= 3.5 and every competency >= 2.5
reject:  average < 2.5, or a competency < 1.5
hold:    otherwise; and an `advance` with text addressed to the grader is held for a person.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from dataclasses import dataclass

from bot.interview.report import Recommendation

ADVANCE_AVERAGE, ADVANCE_LOWEST = 3.5, 2.5
REJECT_AVERAGE, REJECT_LOWEST = 2.5, 1.5


@dataclass(frozen=True, slots=True)
class Decision:
    recommendation: Recommendation
    reason: str  # the condition that fired, with the figures that made it fire
    held: bool = False


def recommend(
    scores: Mapping[str, float], names: Mapping[str, str], *, held: bool = False
) -> Decision:
    if not scores:
        return Decision("hold", "no answer could be scored: a person reads the transcript")
    average = statistics.fmean(scores.values())
    lowest_id = min(scores, key=lambda c: scores[c])
    lowest, lowest_name = scores[lowest_id], names.get(lowest_id, lowest_id)
    if average < REJECT_AVERAGE:
        return Decision("reject", f"average {average:.1f} < {REJECT_AVERAGE}")
    if lowest < REJECT_LOWEST:
        return Decision("reject", f"{lowest_name} {lowest:.1f} < {REJECT_LOWEST}")
    if average >= ADVANCE_AVERAGE and lowest >= ADVANCE_LOWEST:
        reason = (
            f"average {average:.1f} >= {ADVANCE_AVERAGE} and the lowest competency, "
            f"{lowest_name} {lowest:.1f}, >= {ADVANCE_LOWEST}"
        )
        if held:
            return Decision(
                "hold",
                "held for a person: text addressed to the grader was found "
                f"(else advance: {reason})",
                held=True,
            )
        return Decision("advance", reason)
    if average < ADVANCE_AVERAGE:
        return Decision("hold", f"average {average:.1f} < {ADVANCE_AVERAGE} (advance needs it)")
    return Decision("hold", f"{lowest_name} {lowest:.1f} < {ADVANCE_LOWEST} (advance needs it)")
