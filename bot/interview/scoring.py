"""Evidence-first scoring: an interview's answers to an `EvaluationReport`.

Per question, in the role's order:
0. An answer to a résumé follow-up loses the résumé snippet it was shown (`own_words`).
1. Patterns take text addressed to the grader out (bot.interview.manipulation); then the
   classifier call may flag more, which stands only with a verified excerpt and is taken
   out too. A flag never subtracts: the rest of the answer is scored as if it were alone.
2. Extraction: one structured call covering every item of the question (its reference
   points; for behavioural questions the STAR parts first), k samples (the first at
   temperature 0). A STAR part the candidate labelled counts with the labelled text.
3. Code verifies each quote (bot.interview.evidence) against that question's own answer
   and follow-up answers after the removal; an item is credited only with a verified quote.
   Items claimed with words that are not there get one `judging.locate` call: the model
   names a sentence of the answer by its number, and that sentence is the quote.
4. THE SCORE RULE, from verified coverage and the role's anchors (anchor 1 = nothing
   covered, anchor 3 = about half, anchor 5 = everything):
       score = 1 + round_half_up(4 * covered / items)
   so with 4 items: 0 -> 1, 1 -> 2, 2 -> 3, 3 -> 4, 4 -> 5; an answer under
   MIN_SUBSTANTIVE_WORDS (after removal) scores 1 without a call. With k samples the
   score is their median, the report shows the sample nearest to it.
Competency score = mean of its questions; the recommendation follows `recommend`.
No score is ever made up: a call that fails validation raises LLMBadOutput.

Each question's result is saved as a checkpoint (`TurnContext.checkpoints`) under a key
that names everything it was made from (prompt and role versions, the question, the
answers and follow-ups, the number of samples): a turn killed while grading runs again and
grades only the questions it had not finished.
"""

from __future__ import annotations

import hashlib
import json
import logging
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields

from bot import crashpoints
from bot.flows.base import TurnContext
from bot.interview import judging
from bot.interview.evidence import (
    MIN_SUBSTANTIVE_WORDS,
    cut_at_word,
    is_verbatim,
    remove_quoted,
    sentences,
    without_cut_end,
    word_count,
)
from bot.interview.kinds import Item, kind_of
from bot.interview.manipulation import (
    excerpt_stands,
    remove_excerpt,
    strip_patterns,
    talks_about_grading,
)
from bot.interview.recommendation import recommend
from bot.interview.report import (
    POSSIBLE_MANIPULATION,
    SCORE_DISAGREEMENT,
    UNVERIFIED_QUOTES_DROPPED,
    AnsweredBy,
    CompetencyReport,
    CoveredPoint,
    EvaluationReport,
    ManipulationFlag,
    QuestionReport,
)
from bot.interview.state import Answer
from bot.prompts import Question, Role

log = logging.getLogger(__name__)
RATIONALE_CHARS = 300
STRENGTH_MIN_SCORE = 4


def score_rule(covered: int, items: int) -> int:
    """The stated rule: 1 + round_half_up(4 * covered / items), within 1..5."""
    if items <= 0 or covered <= 0:
        return 1
    return max(1, min(5, 1 + int(4 * covered / items + 0.5)))


@dataclass
class _Sample:
    covered: list[CoveredPoint]
    missed: list[str]
    score: int
    dropped: int
    unverified: list[Item] = field(default_factory=list)  # claimed with words not in the answer


@dataclass
class _Run:
    raw: list[str] = field(default_factory=list)
    model: str = ""
    dropped: int = 0
    model_flags_dropped: int = 0
    located: int = 0  # items credited with the sentence `judging.locate` named

    def absorb(self, part: _Run) -> None:
        """Add one question's share: lists extended, counts added, the last model kept."""
        for name in (f.name for f in fields(self)):
            mine, theirs = getattr(self, name), getattr(part, name)
            if isinstance(mine, list):
                mine.extend(theirs)
            elif isinstance(mine, str):
                setattr(self, name, theirs or mine)
            else:
                setattr(self, name, mine + theirs)


@dataclass(frozen=True, slots=True)
class Scored:
    report: EvaluationReport
    raw: str  # every model output, for audit
    model: str


async def _flags(
    ctx: TurnContext, role: Role, question: Question, texts: list[str], run: _Run
) -> tuple[list[str], list[ManipulationFlag]]:
    """The texts with grader talk removed, and the flags with their excerpts."""
    flags: list[ManipulationFlag] = []
    cleaned: list[str] = []
    for text in texts:
        kept, removed = strip_patterns(text)
        cleaned.append(kept)
        flags += [
            ManipulationFlag(source="pattern", excerpt=r.excerpt, family=r.family) for r in removed
        ]
    joined = "\n\n".join(t for t in cleaned if t)
    if word_count(joined) < MIN_SUBSTANTIVE_WORDS:
        return cleaned, flags
    verdict = await judging.classify(ctx, role, question, joined)
    run.raw.append(verdict.raw)
    run.model = verdict.model
    excerpt = verdict.value.excerpt.strip()
    if verdict.value.addresses_grader:
        if excerpt_stands(excerpt, cleaned):
            flags.append(ManipulationFlag(source="classifier", excerpt=excerpt))
            cleaned = [remove_excerpt(t, excerpt) for t in cleaned]
        else:
            run.model_flags_dropped += 1
            log.info("classifier flag on %s dropped: excerpt not verifiable", question.id)
    return cleaned, flags


def _verify(
    items: Sequence[Item],
    coverage: Mapping[str, judging.ItemCoverage],
    labelled: Mapping[str, str],
    texts: list[str],
) -> _Sample:
    covered: list[CoveredPoint] = []
    missed: list[str] = []
    unverified: list[Item] = []
    dropped = 0
    for item in items:
        claim = coverage.get(item.key)
        quote = without_cut_end(claim.quote, judging.QUOTE_CHARS) if claim is not None else ""
        if item.key in labelled:
            covered.append(CoveredPoint(point=item.label, quote=labelled[item.key]))
        elif (
            claim is not None
            and claim.covered
            and is_verbatim(quote, texts)
            and not talks_about_grading(quote)
        ):
            covered.append(CoveredPoint(point=item.label, quote=quote))
        else:
            if claim is not None and claim.covered:
                dropped += 1
                if not talks_about_grading(quote):
                    unverified.append(item)
            missed.append(item.label)
    return _Sample(covered, missed, score_rule(len(covered), len(items)), dropped, unverified)


async def _locate(
    ctx: TurnContext,
    role: Role,
    question: Question,
    items: Sequence[Item],
    sample: _Sample,
    texts: list[str],
    run: _Run,
) -> _Sample:
    """The items claimed with words that are not the candidate's, asked again as sentence
    numbers: an item is credited with the sentence named, which is the candidate's own
    words by construction, unless that sentence speaks of the grading."""
    numbered = sentences(texts)
    if not sample.unverified or not numbered:
        return sample
    answer = await judging.locate(ctx, role, question, sample.unverified, numbered)
    run.raw.append(answer.raw)
    found = {
        key: numbered[n - 1]
        for key, n in answer.value.located(len(numbered)).items()
        if not talks_about_grading(numbered[n - 1])
    }
    if not found:
        return sample
    run.located += len(found)
    already = {point.point: point for point in sample.covered}
    covered: list[CoveredPoint] = []
    missed: list[str] = []
    for item in items:
        if item.label in already:
            covered.append(already[item.label])
        elif item.key in found:
            covered.append(CoveredPoint(point=item.label, quote=found[item.key]))
        else:
            missed.append(item.label)
    return _Sample(covered, missed, score_rule(len(covered), len(items)), sample.dropped)


def _rationale(sample: _Sample, items: int, flagged: bool) -> str:
    parts = [f"Covered {len(sample.covered)} of {items}"]
    if sample.covered:
        parts[0] += ": " + "; ".join(c.point for c in sample.covered)
    if sample.missed:
        parts.append("missed: " + "; ".join(sample.missed))
    if flagged:
        parts.append("text addressed to the grader was removed first")
    return cut_at_word(". ".join(parts) + ".", RATIONALE_CHARS)


async def score_question(
    ctx: TurnContext,
    role: Role,
    question: Question,
    texts: list[str],
    *,
    samples: int,
    follow_ups: list[str],
    answered_by: AnsweredBy,
    run: _Run,
) -> QuestionReport:
    cleaned, flags = await _flags(ctx, role, question, texts, run)
    kind = kind_of(question)
    items = kind.items(question)
    joined = "\n\n".join(t for t in cleaned if t)
    results: list[_Sample] = []
    if word_count(joined) < MIN_SUBSTANTIVE_WORDS:
        results.append(_Sample([], [i.label for i in items], 1, 0))
    else:
        labelled = {k: v for k, v in kind.labelled(joined).items() if is_verbatim(v, cleaned)}
        for n in range(max(1, samples)):
            extracted = await judging.extract(
                ctx, role, question, items, joined, temperature=0.0 if n == 0 else 0.7
            )
            run.raw.append(extracted.raw)
            run.model = extracted.model
            sample = _verify(items, extracted.value.coverage(), labelled, cleaned)
            results.append(await _locate(ctx, role, question, items, sample, cleaned, run))
    run.dropped += sum(s.dropped for s in results)
    values = [float(s.score) for s in results]
    median = float(statistics.median(values))
    shown = min(results, key=lambda s: abs(s.score - median))
    return QuestionReport(
        id=question.id,
        competency=question.competency,
        kind=question.kind,
        score=median,
        covered=shown.covered,
        missed=shown.missed,
        flags=flags,
        follow_ups=follow_ups,
        answered_by=answered_by,
        rationale=_rationale(shown, len(items), bool(flags)),
        samples=values,
        disagreement=max(values) - min(values) >= 2,
    )


async def evaluate(
    ctx: TurnContext,
    role: Role,
    answers: Sequence[Answer],
    *,
    samples: int = 1,
    follow_ups: Mapping[str, list[str]] | None = None,
) -> Scored:
    run = _Run()
    questions: list[QuestionReport] = []
    for question in role.questions:
        given = [a for a in answers if a.question_id == question.id]
        if not given:
            continue
        graded, part = await _checkpointed(
            ctx,
            role,
            question,
            given,
            samples=samples,
            follow_ups=list((follow_ups or {}).get(question.id, [])),
        )
        questions.append(graded)
        run.absorb(part)
    report = build_report(role, questions, samples=max(1, samples), run=run)
    report = report.model_copy(
        update={
            "model": run.model,
            "prompt_version": ctx.prompts.interview.version,
            "role_version": role.version,
        }
    )
    return Scored(report, json.dumps(run.raw, ensure_ascii=False), run.model)


async def _checkpointed(
    ctx: TurnContext,
    role: Role,
    question: Question,
    given: list[Answer],
    *,
    samples: int,
    follow_ups: list[str],
) -> tuple[QuestionReport, _Run]:
    """One question graded, or taken from the checkpoint an earlier run of the turn saved."""
    texts = [own_words(a) for a in given]
    key = _checkpoint_key(ctx, role, question, texts, follow_ups, samples)
    saved = await ctx.checkpoints.load(key) if ctx.checkpoints is not None else None
    if saved is not None:
        log.info(
            "question %s of conversation %s: grading taken from its checkpoint",
            question.id,
            ctx.conversation_id,
        )
        return QuestionReport.model_validate(saved["question"]), _Run(**saved["run"])
    part = _Run()
    graded = await score_question(
        ctx,
        role,
        question,
        texts,
        samples=samples,
        follow_ups=follow_ups,
        answered_by="voice" if any(a.answered_by == "voice" for a in given) else "text",
        run=part,
    )
    asr_models = [a.voice.asr_model for a in given if a.voice is not None]
    if asr_models:  # scoring is unchanged; the report says which model heard the answer
        graded = graded.model_copy(update={"asr_model": asr_models[0]})
    if ctx.checkpoints is not None:
        await ctx.checkpoints.save(
            key, {"question": graded.model_dump(mode="json"), "run": asdict(part)}
        )
    crashpoints.reached("grading.question")
    return graded, part


def _checkpoint_key(
    ctx: TurnContext,
    role: Role,
    question: Question,
    texts: list[str],
    follow_ups: list[str],
    samples: int,
) -> str:
    material = [
        "grading/1",  # the checkpoint's own format: bumped when what it holds changes
        ctx.prompts.interview.version,
        role.id,
        role.version,
        question.id,
        max(1, samples),
        texts,
        follow_ups,
    ]
    return hashlib.sha256(json.dumps(material, ensure_ascii=False).encode()).hexdigest()


def own_words(answer: Answer) -> str:
    """What the candidate said, less the résumé snippet a résumé follow-up showed them:
    their résumé is never their evidence, even repeated back."""
    if answer.prompted_with:
        return remove_quoted(answer.text, answer.prompted_with)
    return answer.text


def build_report(
    role: Role, questions: list[QuestionReport], *, samples: int, run: _Run
) -> EvaluationReport:
    competencies: list[CompetencyReport] = []
    for competency in role.competencies:
        mine = [q for q in questions if q.competency == competency.id and q.score is not None]
        if not mine:
            continue
        competencies.append(
            CompetencyReport(
                id=competency.id,
                name=competency.name.en,
                score=round(statistics.fmean(q.score or 0 for q in mine), 2),
                evidence=[quote for q in mine for quote in q.evidence],
                disagreement=any(q.disagreement for q in mine),
            )
        )
    flagged = any(q.flags for q in questions)
    scores = {c.id: float(c.score or 0) for c in competencies}
    decision = recommend(scores, {c.id: c.name for c in competencies}, held=flagged)
    flags = [POSSIBLE_MANIPULATION] if flagged else []
    flags += [SCORE_DISAGREEMENT] if any(c.disagreement for c in competencies) else []
    flags += [UNVERIFIED_QUOTES_DROPPED] if run.dropped else []
    names = {c.id: c.name.en for c in role.competencies}
    # Strengths only from verified coverage of well-scored answers with no flag at all.
    strengths = [
        f"{names[q.competency]}: {c.point}"
        for q in questions
        if not q.flags and (q.score or 0) >= STRENGTH_MIN_SCORE
        for c in q.covered
    ]
    concerns = [f"{c.name}: {c.score}" for c in competencies if (c.score or 0) <= 2]
    return EvaluationReport(
        role=role.id,
        questions=questions,
        competencies=competencies,
        average_score=round(statistics.fmean(scores.values()), 2) if scores else None,
        recommendation=decision.recommendation,
        recommendation_reason=decision.reason,
        held_for_person=decision.held,
        strengths=strengths,
        concerns=concerns,
        flags=flags,
        unverified_quotes_dropped=run.dropped,
        model_flags_dropped=run.model_flags_dropped,
        samples=samples,
    )
