"""Block Kit for the hiring channel: interview reports, notices and their buttons.

Pure functions over `bot.interview.desk` views. Slack refuses a message over its limits (50
blocks, 3,000 characters per section text, 150 per header, 75 per button label), so long
text is cut into several sections and whatever does not fit in the report's message goes
into its thread. Candidate and model text is escaped: an answer holding `<!channel>` must
not ping anybody.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from adapters.slack.block_kit import (
    BUTTON_MAX_CHARS,
    CONTEXT_MAX_CHARS,
    HEADER_MAX_CHARS,
    MAX_BLOCKS,
    SECTION_MAX_CHARS,
    Block,
    button,
    clip,
    context,
    escape,
    header,
    score_text,
    sections,
    slack_time,
)
from adapters.slack.report_questions import question_details
from bot.interview.desk import CompetencyView, InterviewReport, QuestionView
from bot.resume.report import render_match
from bot.store.api import DecisionRecord
from bot.texts import text

__all__ = [
    "BUTTON_MAX_CHARS",
    "CONTEXT_MAX_CHARS",
    "HEADER_MAX_CHARS",
    "SECTION_MAX_CHARS",
    "button",
    "escape",
    "header",
    "slack_time",
]

FALLBACK_MAX_CHARS = 3_000  # the notification text beside the blocks
EXCERPT_MAX_CHARS = 300  # one manipulation excerpt in the flags
ACTION_PREFIX = "hiring:"
ACTION_TRANSCRIPT = f"{ACTION_PREFIX}transcript"
ACTION_RETRY = f"{ACTION_PREFIX}retry"
DECISION_ACTIONS = {f"{ACTION_PREFIX}{d}": d for d in ("advance", "reject", "needs_review")}
FIXED_BLOCKS = 6  # header, facts, recommendation, "more in the thread", decision, buttons


@dataclass(frozen=True, slots=True)
class SlackMessage:
    text: str  # the notification / fallback text
    blocks: list[Block]


@dataclass(frozen=True, slots=True)
class ReportMessages:
    report: SlackMessage  # the message in the channel, with the buttons
    thread: list[SlackMessage] = field(default_factory=list)  # what did not fit in it


# ---- the report -------------------------------------------------------------------------


def report_messages(report: InterviewReport) -> ReportMessages:
    """The report's message (always within the limits) and its overflow for the thread."""
    head = [
        header(text("hiring_report_header", candidate=report.candidate, role=report.role_title)),
        context(_facts(report)),
        *sections(_recommendation(report))[:1],
    ]
    tail = [context(decision_line(report.decisions)), _decision_buttons(report)]
    body = _summary(report) + _details(report) + _role_match(report)
    room = MAX_BLOCKS - len(head) - len(tail) - 1  # one for "more in the thread"
    if len(body) <= room + 1:
        shown, rest = body, []
    else:
        shown, rest = body[:room], body[room:]
        shown = [*shown, context(text("hiring_details_in_thread"))]
    title = text(
        "hiring_report_header", candidate=escape(report.candidate), role=escape(report.role_title)
    )
    fallback = clip(
        f"{title}: {recommendation_label(report.recommendation)}",
        FALLBACK_MAX_CHARS,
    )
    thread = [
        SlackMessage(fallback, rest[start : start + MAX_BLOCKS])
        for start in range(0, len(rest), MAX_BLOCKS)
    ]
    return ReportMessages(SlackMessage(fallback, [*head, *shown, *tail]), thread)


def decision_line(decisions: tuple[DecisionRecord, ...]) -> str:
    if not decisions:
        return text("hiring_undecided")
    latest = decisions[-1]
    line = text(
        "hiring_decided",
        decision=text(f"hiring_button_{latest.decision}"),
        user=escape(latest.decided_by),
        at=slack_time(latest.decided_at),
    )
    if len(decisions) > 1:
        line += " " + text("hiring_earlier_decisions", count=len(decisions) - 1)
    return line


def recommendation_label(recommendation: str) -> str:
    key = f"hiring_recommendation_{recommendation}"
    try:
        return text(key)
    except KeyError:
        return recommendation or "?"


def _facts(report: InterviewReport) -> str:
    duration = (
        text("hiring_minutes", minutes=score_text(report.duration_minutes))
        if report.duration_minutes is not None
        else text("hiring_unknown")
    )
    average = score_text(report.average_score) if report.average_score is not None else "?"
    return text(
        "hiring_facts",
        average=average,
        follow_ups=report.follow_ups,
        duration=duration,
        evaluation_id=report.evaluation_id,
    )


def _recommendation(report: InterviewReport) -> str:
    return clip(
        text(
            "hiring_recommendation",
            recommendation=recommendation_label(report.recommendation),
            reason=escape(report.recommendation_reason),
        ),
        SECTION_MAX_CHARS,
    )


def _summary(report: InterviewReport) -> list[Block]:
    lines = [text("hiring_scores_title")]
    lines += [
        f"• *{escape(c.name)}*: {score_text(c.score)} / 5{' :warning:' if c.disagreement else ''}"
        for c in report.competencies
    ]
    none = text("hiring_none")
    strengths = text("hiring_strengths", items=escape(", ".join(report.strengths)) or none)
    concerns = text("hiring_concerns", items=escape(", ".join(report.concerns)) or none)
    blocks = sections("\n".join(lines)) + sections(f"{strengths}\n{concerns}")
    if report.flags:
        blocks += sections(_flags(report))
    return blocks


def _flags(report: InterviewReport) -> str:
    lines = [text("hiring_flags_title")]
    for flag in report.flags:
        if flag == "possible_manipulation":
            lines.append(text("hiring_flag_possible_manipulation"))
            lines += [
                f"> _{escape(qid)}_: {escape(clip(excerpt, EXCERPT_MAX_CHARS))}"
                for qid, excerpt in report.manipulation_excerpts
            ]
        elif flag == "unverified_quotes_dropped":
            lines.append(
                text(
                    "hiring_flag_unverified_quotes_dropped", count=report.unverified_quotes_dropped
                )
            )
        elif flag == "score_disagreement":
            lines.append(text("hiring_flag_score_disagreement"))
        else:
            lines.append(f":warning: {escape(flag)}")
    return "\n".join(lines)


def _details(report: InterviewReport) -> list[Block]:
    evaluation = report.evaluation
    if evaluation is not None and evaluation.scoring == "evidence-v2":
        return question_details(report)
    blocks: list[Block] = []
    for competency in report.competencies:
        asked = [q for q in report.questions if q.competency == competency.id]
        blocks += sections(_competency_text(competency, asked))
    return blocks


def _role_match(report: InterviewReport) -> list[Block]:
    """The résumé's "Match with the role": a section after the scores, never among them."""
    evaluation = report.evaluation
    if evaluation is None:
        return []
    if evaluation.role_match is not None:
        title, _, rest = render_match(evaluation.role_match).partition("\n")
        return sections(f"*{escape(title)}*\n{escape(rest)}")
    if evaluation.role_match_error:
        return sections(f"*{text('resume_match_title')}*\n{text('resume_match_failed')}")
    return []


def _competency_text(competency: CompetencyView, questions: list[QuestionView]) -> str:
    lines = [
        f"*{escape(competency.name)}: {score_text(competency.score)} / 5*",
        escape(competency.rationale),
    ]
    if competency.evidence:
        lines.append(text("hiring_evidence"))
        lines += [f"> {escape(quote)}" for quote in competency.evidence]
    else:
        lines.append(f"_{text('hiring_no_evidence')}_")
    for question in questions:
        lines.append(
            text(
                "hiring_question_line",
                question=escape(question.text or question.id),
                score=score_text(question.score),
                rationale=escape(question.rationale),
            )
        )
        if question.voice_model:
            lines.append(text("hiring_voice_answer", model=escape(question.voice_model)))
    return "\n".join(lines)


def _decision_buttons(report: InterviewReport) -> Block:
    value = str(report.evaluation_id)
    return {
        "type": "actions",
        "block_id": "hiring_decision",
        "elements": [
            button(text("hiring_button_advance"), "hiring:advance", value, "primary"),
            button(text("hiring_button_reject"), "hiring:reject", value, "danger"),
            button(text("hiring_button_needs_review"), "hiring:needs_review", value),
            button(
                text("hiring_button_transcript"), ACTION_TRANSCRIPT, str(report.conversation_id)
            ),
        ],
    }


# ---- notices ----------------------------------------------------------------------------


def notice(body: str) -> SlackMessage:
    return SlackMessage(clip(body, FALLBACK_MAX_CHARS), sections(clip(body, SECTION_MAX_CHARS)))


def failed_evaluation(body: str, conversation_id: int, footer: str = "") -> SlackMessage:
    """The failure notice; with `footer` (who asked for a retry) and no Retry button."""
    value = str(conversation_id)
    elements = [button(text("hiring_button_transcript"), ACTION_TRANSCRIPT, value)]
    if not footer:
        elements.insert(0, button(text("hiring_button_retry"), ACTION_RETRY, value, "primary"))
    blocks = sections(clip(body, SECTION_MAX_CHARS))
    if footer:
        blocks.append(context(footer))
    blocks.append({"type": "actions", "block_id": "hiring_failed", "elements": elements})
    return SlackMessage(clip(body, FALLBACK_MAX_CHARS), blocks)
