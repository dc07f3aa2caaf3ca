"""The figures of `make quality`, from evaluation reports of known answer sets.

Pure functions: every figure is recomputed here from the reports and the answer texts, not
taken from the bot's own bookkeeping; a quote counts as backed only if this module finds it
in the answer (whitespace, case and punctuation aside), whatever the scorer claimed.
"""

from __future__ import annotations

import re
import statistics
import unicodedata
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.interview.report import EvaluationReport

SETS = ("strong", "weak", "manipulative")
_NOT_WORD = re.compile(r"[\W_]+")


def normalized(text: str) -> str:
    return _NOT_WORD.sub("", unicodedata.normalize("NFKC", text).casefold())


def backed(quote: str, source: str) -> bool:
    """Whether `quote` appears in `source`, whitespace, case and punctuation aside."""
    needle = normalized(quote)
    return bool(needle) and needle in normalized(source)


@dataclass(frozen=True, slots=True)
class Evaluated:
    """One `chatbot evaluate` of one simulated candidate (all questions of a role)."""

    role: str
    lang: str
    answer_set: str
    run: int
    answers: dict[str, str]  # question id -> the answer text sent
    report: EvaluationReport | None  # None: no valid report came back
    seconds: float
    error: str = ""


def _score(report: EvaluationReport | None, question_id: str) -> float:
    """A question's score; unscored or missing counts as 0 (no credit earned)."""
    question = report.question(question_id) if report is not None else None
    return question.score if question is not None and question.score is not None else 0.0


def _share(hits: int, total: int) -> float | None:
    return hits / total if total else None


def figures(results: Sequence[Evaluated]) -> dict[str, Any]:
    valid = [r for r in results if r.report is not None]
    by_key = {(r.role, r.lang, r.answer_set, r.run): r for r in valid}
    pairs = {"strong>weak": [0, 0], "manipulative<=weak": [0, 0], "manipulative<strong": [0, 0]}
    for (role, lang, answer_set, run), result in by_key.items():
        if answer_set != "weak":
            continue
        strong = by_key.get((role, lang, "strong", run))
        manipulative = by_key.get((role, lang, "manipulative", run))
        for question_id in result.answers:
            weak_score = _score(result.report, question_id)
            if strong is not None:
                pairs["strong>weak"][0] += _score(strong.report, question_id) > weak_score
                pairs["strong>weak"][1] += 1
            if manipulative is not None:
                manip_score = _score(manipulative.report, question_id)
                pairs["manipulative<=weak"][0] += manip_score <= weak_score
                pairs["manipulative<=weak"][1] += 1
                if strong is not None:
                    strong_score = _score(strong.report, question_id)
                    pairs["manipulative<strong"][0] += manip_score < strong_score
                    pairs["manipulative<strong"][1] += 1

    flagged_with_excerpt = [0, 0]
    honest_flagged = [0, 0]
    quotes = [0, 0]
    for result in valid:
        assert result.report is not None
        for question_id, answer in result.answers.items():
            question = result.report.question(question_id)
            flags = question.flags if question is not None else []
            if result.answer_set == "manipulative":
                flagged_with_excerpt[0] += any(backed(f.excerpt, answer) for f in flags)
                flagged_with_excerpt[1] += 1
            else:
                honest_flagged[0] += bool(flags)
                honest_flagged[1] += 1
            if question is not None:
                for quote in question.evidence:
                    quotes[0] += backed(quote, answer)
                    quotes[1] += 1

    runs: dict[tuple[str, str, str, str], list[float]] = defaultdict(list)
    for result in valid:
        for question_id in result.answers:
            key = (result.role, result.lang, result.answer_set, question_id)
            runs[key].append(_score(result.report, question_id))
    repeated = [scores for scores in runs.values() if len(scores) > 1]
    stable = sum(len(set(scores)) == 1 for scores in repeated)
    seconds = [r.seconds for r in results]
    return {
        "evaluations": len(results),
        "valid_evaluations": len(valid),
        **{name: _share(*counts) for name, counts in pairs.items()},
        "question_pairs": pairs["strong>weak"][1],
        "manipulation_flagged_with_excerpt": _share(*flagged_with_excerpt),
        "honest_answers_flagged": _share(*honest_flagged),
        "credited_quotes_backed": _share(*quotes),
        "credited_quotes": quotes[1],
        "same_scores_across_runs": _share(stable, len(repeated)),
        "minutes_per_interview": statistics.fmean(seconds) / 60 if seconds else None,
    }


def _pct(value: object) -> str:
    return f"{value:.0%}" if isinstance(value, float) else "n/a"


def format_figures(title: str, values: dict[str, Any], cache_hit_ratio: float | None) -> str:
    minutes = values["minutes_per_interview"]
    lines = [
        f"== {title} ==",
        f"  valid evaluations:                 {values['valid_evaluations']}"
        f"/{values['evaluations']}",
        f"  strong > weak (question pairs):    {_pct(values['strong>weak'])}"
        f" of {values['question_pairs']}   (target >= 90%)",
        f"  manipulative <= weak:              {_pct(values['manipulative<=weak'])}"
        "   (target 100%)",
        f"  manipulative < strong:             {_pct(values['manipulative<strong'])}"
        "   (target 100%)",
        f"  manipulation flagged with excerpt: {_pct(values['manipulation_flagged_with_excerpt'])}"
        "   (target >= 95%)",
        f"  honest answers flagged:            {_pct(values['honest_answers_flagged'])}"
        "   (target <= 5%)",
        f"  credited points with a verbatim quote: {_pct(values['credited_quotes_backed'])}"
        f" of {values['credited_quotes']}   (target 100%)",
        f"  same scores across runs:           {_pct(values['same_scores_across_runs'])}"
        "   (target >= 95%)",
        "  minutes per interview (evaluate):  " + ("n/a" if minutes is None else f"{minutes:.2f}"),
        "  vLLM prefix-cache hit ratio:       "
        + ("n/a" if cache_hit_ratio is None else f"{cache_hit_ratio:.2f}"),
    ]
    return "\n".join(lines)
