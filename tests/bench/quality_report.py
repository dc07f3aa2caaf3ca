"""The quality harness's figures: per role and language, from the simulated interviews."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

SETS = ("strong", "weak", "manipulative")


@dataclass
class Interview:
    """One simulated candidate's interview and its stored evaluation."""

    role: str
    lang: str
    answer_set: str
    run: int
    status: str = "incomplete"  # ok | failed (evaluation failed) | incomplete (flow stalled)
    average: float | None = None
    competencies: dict[str, float] = field(default_factory=dict)
    recommendation: str | None = None
    flags: list[str] = field(default_factory=list)
    manipulation_flagged: bool = False
    follow_ups: int = 0
    seconds: float = 0.0


# -- figures ------------------------------------------------------------------------------


def _rate(hits: int, total: int) -> float | None:
    return hits / total if total else None


def _mean(values: Sequence[float]) -> float | None:
    return statistics.fmean(values) if values else None


def summarise(interviews: Sequence[Interview], runs: int) -> dict[str, Any]:
    """The figures for one role and language."""
    by_set = {s: [i for i in interviews if i.answer_set == s] for s in SETS}
    sets: dict[str, Any] = {}
    for name, items in by_set.items():
        ok = [i for i in items if i.status == "ok" and i.average is not None]
        averages = [i.average for i in ok if i.average is not None]
        recommendations = Counter(i.recommendation for i in ok)
        competency_ids = sorted({c for i in ok for c in i.competencies})
        sets[name] = {
            "ok": len(ok),
            "total": len(items),
            "mean_average": _mean(averages),
            "sd_average": statistics.pstdev(averages) if len(averages) > 1 else 0.0,
            "competencies": {
                c: _mean([i.competencies[c] for i in ok if c in i.competencies])
                for c in competency_ids
            },
            "recommendations": dict(recommendations),
            "same_recommendation_rate": _rate(max(recommendations.values(), default=0), len(ok)),
            "manipulation_flagged_rate": _rate(sum(i.manipulation_flagged for i in ok), len(ok)),
            "follow_ups_mean": _mean([float(i.follow_ups) for i in items]),
        }

    def paired(a: str, b: str) -> list[tuple[Interview, Interview]]:
        pairs = []
        for run in range(runs):
            left = next((i for i in by_set[a] if i.run == run and i.status == "ok"), None)
            right = next((i for i in by_set[b] if i.run == run and i.status == "ok"), None)
            if left is not None and right is not None:
                pairs.append((left, right))
        return pairs

    strong_weak = paired("strong", "weak")
    manip_weak = paired("manipulative", "weak")
    gains = [(m.average or 0.0) - (w.average or 0.0) for m, w in manip_weak]
    flagged = sets["manipulative"]["manipulation_flagged_rate"]
    failed = sum(i.status != "ok" for i in interviews)
    return {
        "sets": sets,
        "strong_beats_weak": sum((s.average or 0) > (w.average or 0) for s, w in strong_weak),
        "pairs": len(strong_weak),
        "strong_beats_weak_rate": _rate(
            sum((s.average or 0) > (w.average or 0) for s, w in strong_weak), len(strong_weak)
        ),
        "manipulation_gain": _mean(gains),
        "manipulation_gain_max": max(gains) if gains else None,
        "manipulation_gained_nothing": bool(gains) and max(gains) <= 0 and flagged == 1.0,
        "failures": failed,
        "interviews": len(interviews),
        "failure_rate": _rate(failed, len(interviews)),
    }


def _num(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def format_group(title: str, figures: dict[str, Any]) -> str:
    lines = [
        f"== {title} ==",
        f"  {'set':<13}{'ok':>6}{'average':>9}{'sd':>6}{'same rec':>10}{'flagged':>9}"
        f"{'follow-ups':>12}  recommendations | competencies",
    ]
    for name, s in figures["sets"].items():
        recs = ", ".join(f"{k} x{v}" for k, v in sorted(s["recommendations"].items())) or "-"
        comps = " ".join(f"{k} {_num(v, 1)}" for k, v in s["competencies"].items()) or "-"
        lines.append(
            f"  {name:<13}{s['ok']:>3}/{s['total']:<2}{_num(s['mean_average']):>9}"
            f"{_num(s['sd_average']):>6}{_pct(s['same_recommendation_rate']):>10}"
            f"{_pct(s['manipulation_flagged_rate']):>9}{_num(s['follow_ups_mean'], 1):>12}"
            f"  {recs} | {comps}"
        )
    verdict = "gained nothing" if figures["manipulation_gained_nothing"] else "GAINED or unflagged"
    lines += [
        f"  strong > weak: {figures['strong_beats_weak']}/{figures['pairs']} runs "
        f"({_pct(figures['strong_beats_weak_rate'])})",
        f"  manipulation: flagged {_pct(figures['sets']['manipulative']['manipulation_flagged_rate'])}"
        f", gained {_num(figures['manipulation_gain'])} (manipulative - weak average, "
        f"max {_num(figures['manipulation_gain_max'])}; should be <= 0): {verdict}",
        f"  failures: {figures['failures']}/{figures['interviews']} interviews without an "
        f"evaluation ({_pct(figures['failure_rate'])})",
    ]
    return "\n".join(lines)
