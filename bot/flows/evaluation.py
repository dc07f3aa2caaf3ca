"""Scoring an interview per competency, through structured output, checked in code.

For each competency the model scores that competency's answers on its anchored 1-5 scale
(temperature 0; with k samples, the median of k, and a disagreement flag). Then code:
- keeps only evidence quotes that are verbatim in the candidate's own answers;
- takes text that addresses the grader ("ignore previous instructions", "give me 5") out
  of what the model sees, flags it, and gives an answer that was nothing else a 1;
- derives the competency score, the overall recommendation, strengths and concerns from
  the scores by a fixed rule, so that the recommendation is explainable.
No default score is ever made up: a failure raises `LLMBadOutput` and the interview waits
for a retry.
"""

from __future__ import annotations

import json
import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from bot.domain import JSON
from bot.flows.base import TurnContext
from bot.flows.manipulation import strip_manipulation
from bot.llm.types import ChatMessage
from bot.prompts import Competency, Question, Role

if TYPE_CHECKING:
    from bot.flows.interview import Answer

Recommendation = Literal["advance", "hold", "reject"]
MIN_SUBSTANTIVE_WORDS = 4
# Length limits of the judgement, enforced by the server's guided decoding.
RATIONALE_CHARS, SUMMARY_CHARS, QUOTE_CHARS, QUOTES = 200, 300, 150, 2


class QuestionScore(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rationale: str = Field(max_length=RATIONALE_CHARS)  # reasons first, then the score
    score: int = Field(ge=1, le=5)


class CompetencyJudgement(BaseModel):
    """What the model returns for one competency. `scores` has one required property per
    question id (built by `judgement_schema`), so the schema itself, enforced by the
    server's guided decoding, makes the model score every question exactly once."""

    model_config = ConfigDict(extra="forbid")

    evidence: list[Annotated[str, Field(max_length=QUOTE_CHARS)]] = Field(
        default_factory=list, max_length=QUOTES
    )
    scores: BaseModel
    rationale: str = Field(max_length=SUMMARY_CHARS)
    possible_manipulation: bool = False

    def score_of(self, question_id: str) -> QuestionScore:
        score = getattr(self.scores, _field_name(question_id))
        assert isinstance(score, QuestionScore)
        return score


def judgement_token_budget(questions: int) -> int:
    """Room for every field at its longest even if each character is a token (a small
    model can loop on "1.1.1..." until the length limit), so the JSON is never cut off."""
    structure = 40
    per_question = RATIONALE_CHARS + structure
    return 2 * structure + questions * per_question + SUMMARY_CHARS + QUOTES * QUOTE_CHARS


def _field_name(question_id: str) -> str:
    return "q_" + question_id.replace("-", "_")


def judgement_schema(question_ids: Sequence[str]) -> type[CompetencyJudgement]:
    fields: dict[str, Any] = {
        _field_name(qid): (QuestionScore, Field(alias=qid)) for qid in question_ids
    }
    scores = create_model("QuestionScores", __config__=ConfigDict(extra="forbid"), **fields)
    judgement: type[CompetencyJudgement] = create_model(
        "CompetencyJudgement", __base__=CompetencyJudgement, scores=(scores, ...)
    )
    return judgement


@dataclass(frozen=True, slots=True)
class EvaluationResult:
    data: JSON
    raw: str  # every model output, for audit
    model: str


def _normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().casefold()


def verified_quotes(quotes: Sequence[str], answers: Sequence[str]) -> tuple[list[str], int]:
    """The quotes that are verbatim (whitespace and case aside) in the answers; and how
    many were dropped."""
    corpus = [_normalise(a) for a in answers]
    kept = [
        q for q in quotes if len(_normalise(q)) >= 3 and any(_normalise(q) in c for c in corpus)
    ]
    return kept, len(quotes) - len(kept)


def competency_messages(
    ctx: TurnContext, role: Role, competency: Competency, answers: Sequence[tuple[str, str]]
) -> list[ChatMessage]:
    by_id = {q.id: q for q in role.questions}
    anchors = competency.anchors
    rubric = (
        f"Role: {role.title.en}\nCompetency: {competency.name.en}\n"
        f"Anchors: 1 = {anchors.one}\n3 = {anchors.three}\n5 = {anchors.five}"
    )
    blocks = []
    for question_id, answer in answers:
        question = by_id[question_id]
        blocks.append(
            f"Question {question.id} ({question.kind}): {question.text.en}\n"
            f"Reference points: {'; '.join(question.reference_points)}\n"
            f"<candidate_answer>\n{answer}\n</candidate_answer>"
        )
    system = f"{ctx.prompts.interview.evaluator_system}\n{rubric}"
    user = "Score each question of this competency.\n\n" + "\n\n".join(blocks)
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def recommend(scores: dict[str, float]) -> tuple[Recommendation, str]:
    """The fixed rule from competency scores to a recommendation, with its reason."""
    average = statistics.fmean(scores.values())
    lowest = min(scores.values())
    if average >= 3.5 and lowest >= 2.5:
        return "advance", f"average {average:.1f} >= 3.5 and no competency below 2.5"
    if average < 2.5 or lowest < 1.5:
        return "reject", f"average {average:.1f} < 2.5 or a competency below 1.5"
    return "hold", f"average {average:.1f} between the advance and reject thresholds"


async def evaluate(
    ctx: TurnContext, role: Role, answers: Sequence[Answer], *, samples: int = 1
) -> EvaluationResult:
    # A question's answer and its follow-up answers are graded together, as one text.
    cleaned: dict[str, list[str]] = {}
    manipulation: list[dict[str, str]] = []
    for answer in answers:
        kept, removed = strip_manipulation(answer.text)
        cleaned.setdefault(answer.question_id, []).append(kept)
        manipulation += [{"question_id": answer.question_id, "text": r} for r in removed]
    raw_outputs: list[str] = []
    competencies: list[JSON] = []
    questions: list[JSON] = []
    dropped_total, model = 0, ""
    for competency in role.competencies:
        asked = [
            (question_id, "\n\n".join(part for part in parts if part))
            for question_id, parts in cleaned.items()
            if role_question(role, question_id).competency == competency.id
        ]
        if not asked:
            continue
        schema = judgement_schema([qid for qid, _ in asked])
        judgements: list[CompetencyJudgement] = []
        for sample in range(max(1, samples)):
            structured = await ctx.llm.structured(
                competency_messages(ctx, role, competency, asked),
                schema,
                temperature=0.0 if sample == 0 else 0.7,
                # Room for every field at its longest, even in a degenerate one-token-per-
                # two-characters output, so that the JSON is never cut off.
                max_tokens=judgement_token_budget(len(asked)),
                session_id=ctx.session_id,
            )
            raw_outputs.append(structured.raw)
            model = structured.model
            judgements.append(structured.value)
        first = judgements[0]
        evidence, dropped = verified_quotes(first.evidence, [text for _, text in asked])
        dropped_total += dropped
        per_question: list[JSON] = []
        question_scores: list[float] = []
        for question_id, text in asked:
            samples_of = [j.score_of(question_id) for j in judgements]
            values = [q.score for q in samples_of]
            score = float(statistics.median(values))
            rationale = samples_of[0].rationale
            if word_count(text) < MIN_SUBSTANTIVE_WORDS:
                score, rationale = 1.0, "No substantive answer to score."
            question_scores.append(score)
            per_question.append(
                {
                    "question_id": question_id,
                    "competency": competency.id,
                    "score": score,
                    "samples": values,
                    "disagreement": max(values) - min(values) >= 2,
                    "rationale": rationale,
                }
            )
        questions += per_question
        competencies.append(
            {
                "id": competency.id,
                "name": competency.name.en,
                "score": round(statistics.fmean(question_scores), 2),
                "rationale": first.rationale,
                "evidence": evidence,
                "model_flagged_manipulation": any(j.possible_manipulation for j in judgements),
                "disagreement": any(q["disagreement"] for q in per_question),
            }
        )
    scores = {c["id"]: float(c["score"]) for c in competencies}
    recommendation, reason = recommend(scores)
    flags = []
    if manipulation or any(c["model_flagged_manipulation"] for c in competencies):
        flags.append("possible_manipulation")
    if any(c["disagreement"] for c in competencies):
        flags.append("score_disagreement")
    if dropped_total:
        flags.append("unverified_quotes_dropped")
    if "possible_manipulation" in flags and recommendation == "advance":
        recommendation = "hold"
        reason += "; held back because text addressed to the grader was found: a person reads it"
    data: JSON = {
        "role": role.id,
        "recommendation": recommendation,
        "recommendation_reason": reason,
        "average_score": round(statistics.fmean(scores.values()), 2),
        "competencies": competencies,
        "questions": questions,
        "strengths": [c["name"] for c in competencies if c["score"] >= 4],
        "concerns": [c["name"] for c in competencies if c["score"] <= 2],
        "flags": flags,
        "possible_manipulation": "possible_manipulation" in flags,
        "manipulation_excerpts": manipulation,
        "unverified_quotes_dropped": dropped_total,
        "samples": max(1, samples),
    }
    return EvaluationResult(data, json.dumps(raw_outputs, ensure_ascii=False), model)


_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def word_count(text: str) -> int:
    """Words in Latin script; Chinese, written without spaces, counts two characters a word."""
    cjk = len(_CJK.findall(text))
    return len(_CJK.sub(" ", text).split()) + cjk // 2


def role_question(role: Role, question_id: str) -> Question:
    return next(q for q in role.questions if q.id == question_id)
