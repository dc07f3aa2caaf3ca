"""The evaluation report: what scoring stores and every consumer reads.

The hiring desk, the Slack report, `chatbot export`, `chatbot evaluate --json` and the
quality harness read this model, never the stored dict by string keys. Every point of
credit carries the verbatim quote it was verified against, so a person can check it.

`from_stored` also loads evaluations written before evidence-first scoring (one holistic
score per question, evidence per competency, excerpts in a top-level list): those become
`scoring="holistic-v1"` reports with no covered points, as nothing was verified per point.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from bot.domain import JSON
from bot.resume.types import RoleMatch

Recommendation = Literal["advance", "hold", "reject"]
AnsweredBy = Literal["text", "voice"]
FlagSource = Literal["pattern", "classifier"]
Scoring = Literal["evidence-v2", "holistic-v1"]
# What a report-level flag may say; `possible_manipulation` holds an `advance` for a person.
POSSIBLE_MANIPULATION = "possible_manipulation"
SCORE_DISAGREEMENT = "score_disagreement"
UNVERIFIED_QUOTES_DROPPED = "unverified_quotes_dropped"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CoveredPoint(_Model):
    """A reference point (or STAR part) the candidate covered, with the verified quote."""

    point: str  # the reference point's text, or "situation" / "task" / "action" / "result"
    quote: str  # verbatim (whitespace, case and punctuation aside) in the candidate's answer


class ManipulationFlag(_Model):
    """Text in an answer addressed to the grader; it was removed before extraction."""

    source: FlagSource  # a pattern matched, or the classifier call with a verified excerpt
    excerpt: str  # verbatim from the answer
    family: str = ""  # the pattern family ("grader_note", "score_demand", ...); "" for the model


class Adjustment(_Model):
    """The bounded model adjustment of a question's score, only with its own verified quote."""

    delta: Literal[-1, 1]
    quote: str


class QuestionReport(_Model):
    id: str
    competency: str = ""
    kind: str = ""  # the question kind: technical, situational, behavioural, ...
    score: float | None = Field(default=None, ge=1, le=5)  # None: not scored (no answer)
    covered: list[CoveredPoint] = Field(default_factory=list)
    missed: list[str] = Field(default_factory=list)  # reference points / STAR parts not covered
    flags: list[ManipulationFlag] = Field(default_factory=list)
    follow_ups: list[str] = Field(default_factory=list)  # the follow-up questions asked, verbatim
    answered_by: AnsweredBy = "text"
    asr_model: str | None = None  # the speech model that transcribed a voice answer
    adjustment: Adjustment | None = None
    rationale: str = ""  # built from the verified items; bounded, cut at a word boundary
    samples: list[float] = Field(default_factory=list)  # the score of each of k samples
    disagreement: bool = False  # the samples differ by 2 or more

    @property
    def evidence(self) -> list[str]:
        """Every verified quote behind this question's score."""
        quotes = [c.quote for c in self.covered]
        return quotes + ([self.adjustment.quote] if self.adjustment else [])


class CompetencyReport(_Model):
    id: str
    name: str = ""
    score: float | None = None  # the mean of its questions' scores
    rationale: str = ""
    evidence: list[str] = Field(default_factory=list)  # verified quotes of its questions
    disagreement: bool = False


class EvaluationReport(_Model):
    scoring: Scoring = "evidence-v2"
    role: str = ""
    questions: list[QuestionReport] = Field(default_factory=list)
    competencies: list[CompetencyReport] = Field(default_factory=list)
    average_score: float | None = None
    recommendation: Recommendation | None = None
    recommendation_reason: str = ""  # the condition of the rule that fired, with its figures
    held_for_person: bool = False  # an `advance` held because of a manipulation flag
    strengths: list[str] = Field(default_factory=list)  # only verified coverage, never flagged
    concerns: list[str] = Field(default_factory=list)
    flags: list[str] = Field(default_factory=list)  # POSSIBLE_MANIPULATION, ...
    unverified_quotes_dropped: int = 0
    model_flags_dropped: int = 0  # classifier flags whose excerpt was not in the answer
    samples: int = 1
    follow_ups: int = 0
    duration_minutes: float | None = None
    language: str = ""
    consented_at: str | None = None
    model: str = ""
    prompt_version: str = ""
    role_version: str = ""
    # "Match with the role" from the résumé: a section of its own, read by no score above.
    role_match: RoleMatch | None = None
    role_match_error: str = ""  # a résumé was sent but the match could not be made

    @property
    def possible_manipulation(self) -> bool:
        return POSSIBLE_MANIPULATION in self.flags

    def question(self, question_id: str) -> QuestionReport | None:
        return next((q for q in self.questions if q.id == question_id), None)

    def competency_scores(self) -> dict[str, float | None]:
        return {c.id: c.score for c in self.competencies}

    def manipulation_excerpts(self) -> list[tuple[str, str]]:
        """(question id, excerpt) of every flag, in question order."""
        return [(q.id, f.excerpt) for q in self.questions for f in q.flags]

    def to_data(self) -> JSON:
        """The stored / printed form; each question also lists its `evidence` quotes (the
        `chatbot evaluate --json` contract)."""
        data = self.model_dump(mode="json")
        for question, dumped in zip(self.questions, data["questions"], strict=True):
            dumped["evidence"] = question.evidence
        return data

    @classmethod
    def from_stored(
        cls,
        data: JSON,
        *,
        model: str = "",
        prompt_version: str = "",
        role_version: str = "",
    ) -> EvaluationReport:
        """Load a stored evaluation, also one written before this model existed; the
        record's own model and versions fill in what the data does not say."""
        if data.get("scoring") == "evidence-v2":
            fields = dict(data)
            fields["questions"] = [
                {k: v for k, v in q.items() if k != "evidence"} for q in data.get("questions", [])
            ]
        else:
            fields = _from_holistic(data)
        report = cls.model_validate(fields)
        updates = {
            name: value
            for name, value in (
                ("model", model),
                ("prompt_version", prompt_version),
                ("role_version", role_version),
            )
            if value and not getattr(report, name)
        }
        return report.model_copy(update=updates) if updates else report


def _from_holistic(data: JSON) -> dict[str, Any]:
    """The fields of an evaluation stored by the holistic scorer (before evidence-v2)."""
    excerpts: dict[str, list[dict[str, str]]] = {}
    for item in data.get("manipulation_excerpts", []):
        question_id = str(item.get("question_id", ""))
        excerpts.setdefault(question_id, []).append(
            {"source": "pattern", "excerpt": str(item.get("text", ""))}
        )
    questions = [
        {
            "id": str(q.get("question_id", q.get("id", ""))),
            "competency": str(q.get("competency", "")),
            "score": q.get("score"),
            "flags": excerpts.pop(str(q.get("question_id", q.get("id", ""))), []),
            "rationale": str(q.get("rationale", "")),
            "samples": [float(s) for s in q.get("samples", [])],
            "disagreement": bool(q.get("disagreement", False)),
        }
        for q in data.get("questions", [])
    ]
    # Excerpts of a question the evaluation has no entry for still reach the report.
    questions += [{"id": qid, "flags": flags} for qid, flags in excerpts.items()]
    competencies = [
        {
            "id": str(c.get("id", "")),
            "name": str(c.get("name", "")),
            "score": c.get("score"),
            "rationale": str(c.get("rationale", "")),
            "evidence": [str(e) for e in c.get("evidence", [])],
            "disagreement": bool(c.get("disagreement", False)),
        }
        for c in data.get("competencies", [])
    ]
    flags = [str(f) for f in data.get("flags", [])]
    if data.get("possible_manipulation") and POSSIBLE_MANIPULATION not in flags:
        flags.append(POSSIBLE_MANIPULATION)
    return {
        "scoring": "holistic-v1",
        "role": str(data.get("role", "")),
        "questions": questions,
        "competencies": competencies,
        "average_score": data.get("average_score"),
        "recommendation": data.get("recommendation") or None,
        "recommendation_reason": str(data.get("recommendation_reason", "")),
        "held_for_person": "held back" in str(data.get("recommendation_reason", "")),
        "strengths": [str(s) for s in data.get("strengths", [])],
        "concerns": [str(s) for s in data.get("concerns", [])],
        "flags": flags,
        "unverified_quotes_dropped": int(data.get("unverified_quotes_dropped", 0) or 0),
        "samples": int(data.get("samples", 1) or 1),
        "follow_ups": int(data.get("follow_ups", 0) or 0),
        "duration_minutes": data.get("duration_minutes"),
        "language": str(data.get("language", "") or ""),
        "consented_at": data.get("consented_at"),
    }
