"""The per-question part of the hiring report (evidence-first evaluations): each question's
score, covered points with their verified quotes, missed points, the adjustment and its quote,
flags with their excerpts and the follow-ups asked. Read from `EvaluationReport`.
"""

from __future__ import annotations

from adapters.slack.block_kit import Block, clip, escape, score_text, sections
from bot.interview.desk import InterviewReport
from bot.interview.report import QuestionReport
from bot.texts import text

QUOTE_MAX_CHARS = 400  # one verified quote
EXCERPT_MAX_CHARS = 300  # one flagged excerpt


def question_details(report: InterviewReport) -> list[Block]:
    """Per competency its rationale, then per question (a section each, in the role's
    order) the score, each covered point with its verified quote, the missed points, the
    flags with their excerpts and the follow-ups asked."""
    assert report.evaluation is not None
    asked = {q.id: q.text for q in report.questions}
    blocks: list[Block] = []
    for competency in report.competencies:
        head = f"*{escape(competency.name)}: {score_text(competency.score)} / 5*"
        blocks += sections(f"{head}\n{escape(competency.rationale)}".rstrip())
        for question in report.evaluation.questions:
            if question.competency == competency.id:
                blocks += sections(_question_text(question, asked.get(question.id, "")))
    listed = {c.id for c in report.competencies}
    for question in report.evaluation.questions:
        if question.competency not in listed:
            blocks += sections(_question_text(question, asked.get(question.id, "")))
    return blocks


def _question_text(question: QuestionReport, asked: str) -> str:
    score = (
        text("hiring_question_not_scored")
        if question.score is None
        else f"{score_text(question.score)} / 5" + (" :warning:" if question.disagreement else "")
    )
    lines = [text("hiring_question_title", question=escape(asked or question.id), score=score)]
    for covered in question.covered:
        lines.append(text("hiring_covered", point=escape(covered.point)))
        lines.append(f"> {escape(clip(covered.quote, QUOTE_MAX_CHARS))}")
    if question.missed:
        lines.append(text("hiring_missed", points=escape("; ".join(question.missed))))
    if question.adjustment is not None:
        delta = f"{question.adjustment.delta:+d}"
        lines.append(text("hiring_adjustment", delta=delta))
        lines.append(f"> {escape(clip(question.adjustment.quote, QUOTE_MAX_CHARS))}")
    for flag in question.flags:
        lines.append(text("hiring_question_flag", family=escape(flag.family or flag.source)))
        lines.append(f"> {escape(clip(flag.excerpt, EXCERPT_MAX_CHARS))}")
    lines += [
        text("hiring_follow_up_asked", question=escape(follow_up))
        for follow_up in question.follow_ups
    ]
    if question.rationale:
        lines.append(f"_{escape(question.rationale)}_")
    return "\n".join(lines)
