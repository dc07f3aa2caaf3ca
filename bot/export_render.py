"""The interviews export rendered as JSON, CSV or Markdown, per question too.

JSON nests each interview's questions (score, covered points with their verbatim quotes,
missed points, flags with their excerpts, follow-ups asked). CSV is one line per question
(the interview's columns repeated, so a spreadsheet can filter and pivot); an interview
without scored questions is one line. Markdown is the interviews table, then one section
per evaluated interview with the questions in detail.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from bot.export import InterviewRow
    from bot.interview.report import QuestionReport
    from bot.resume.types import RoleMatch

Format = Literal["json", "csv", "md"]

INTERVIEW_COLUMNS = (
    "conversation_id",
    "candidate",
    "platform",
    "role",
    "status",
    "stage",
    "started_at",
    "finished_at",
    "duration_minutes",
    "evaluation",
    "recommendation",
    "average_score",
    "competency_scores",
    "flags",
    "follow_ups",
    "decision",
    "decided_at",
    "recommendation_reason",
    "scoring",
    "role_match",  # from the résumé: its own column, never part of a score
)
QUESTION_COLUMNS = (
    "question_id",
    "question_competency",
    "question_score",
    "covered",
    "missed",
    "question_flags",
    "question_follow_ups",
    "rationale",
)


def render_interviews(rows: Sequence[InterviewRow], fmt: Format) -> str:
    if fmt == "json":
        return json.dumps([_json(r) for r in rows], ensure_ascii=False, indent=2) + "\n"
    if fmt == "csv":
        out = io.StringIO()
        columns = [*INTERVIEW_COLUMNS, *QUESTION_COLUMNS]
        writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            base = _flat(row)
            for question in row.questions or (None,):
                cells = {**base, **_question_cells(question)}
                writer.writerow({k: _csv_safe(v) for k, v in cells.items()})
        return out.getvalue()
    return _markdown(rows)


def _json(row: InterviewRow) -> dict[str, Any]:
    data = {k: v for k, v in asdict(row).items() if k not in ("questions", "role_match")}
    data["role_match"] = row.role_match.model_dump(mode="json") if row.role_match else None
    data["questions"] = [
        {**q.model_dump(mode="json"), "evidence": q.evidence} for q in row.questions
    ]
    return data


def _flat(row: InterviewRow) -> dict[str, str]:
    """Text cells: scores as `id=score; ...`, flags as `a; b`, nothing as empty."""
    values = {k: getattr(row, k) for k in INTERVIEW_COLUMNS}
    values["competency_scores"] = "; ".join(f"{k}={v}" for k, v in row.competency_scores.items())
    values["flags"] = "; ".join(row.flags)
    values["role_match"] = _role_match_cell(row.role_match)
    return {k: "" if v is None else str(v) for k, v in values.items()}


def _role_match_cell(match: RoleMatch | None) -> str:
    """`2/2 must-have; met: python, sql; flagged: hidden_text`; empty without a résumé."""
    if match is None:
        return ""
    met, total = match.must_haves_met
    parts = [f"{met}/{total} must-have"]
    parts.append("met: " + ", ".join(r.id for r in match.requirements if r.met))
    if match.flags:
        parts.append("flagged: " + ", ".join(sorted({f.kind for f in match.flags})))
    return "; ".join(parts)


def _quoted(text: str) -> str:
    return "“" + text.replace("\n", " ") + "”"


def _question_cells(question: QuestionReport | None) -> dict[str, str]:
    if question is None:
        return dict.fromkeys(QUESTION_COLUMNS, "")
    return {
        "question_id": question.id,
        "question_competency": question.competency,
        "question_score": "" if question.score is None else str(question.score),
        "covered": "; ".join(f"{c.point}: {_quoted(c.quote)}" for c in question.covered),
        "missed": "; ".join(question.missed),
        "question_flags": "; ".join(
            f"{f.family or f.source}: {_quoted(f.excerpt)}" for f in question.flags
        ),
        "question_follow_ups": "; ".join(question.follow_ups),
        "rationale": question.rationale,
    }


def _markdown(rows: Sequence[InterviewRow]) -> str:
    columns = list(INTERVIEW_COLUMNS)
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    flat = [_flat(r) for r in rows]
    lines += ["| " + " | ".join(_md_cell(row[c]) for c in columns) + " |" for row in flat]
    for row in rows:
        if not row.questions:
            continue
        lines += ["", f"## {_md_text(row.candidate)}: {_md_text(row.role)} ({row.conversation_id})"]
        if row.recommendation:
            reason = f": {_md_text(row.recommendation_reason)}" if row.recommendation_reason else ""
            lines.append(f"Recommendation **{row.recommendation}**{reason}")
        for question in row.questions:
            score = "not scored" if question.score is None else f"{question.score:g}/5"
            lines += ["", f"### {_md_text(question.id)}: {score}"]
            lines += [
                f"- covered: {_md_text(c.point)}: {_md_quote(c.quote)}" for c in question.covered
            ]
            lines += [f"- missed: {_md_text(m)}" for m in question.missed]
            lines += [
                f"- flag ({_md_text(f.family or f.source)}): {_md_quote(f.excerpt)}"
                for f in question.flags
            ]
            lines += [f"- follow-up asked: {_md_text(f)}" for f in question.follow_ups]
            if question.rationale:
                lines.append(f"- rationale: {_md_text(question.rationale)}")
        if row.role_match is not None:
            lines += ["", "### Match with the role (résumé; not part of any score)"]
            lines += [
                f"- {_md_text(r.id)}: "
                + (f"met, {_md_quote(r.quote or '')}" if r.met else "not shown")
                for r in row.role_match.requirements
            ]
            lines += [f"- flag ({f.kind}): {_md_quote(f.excerpt)}" for f in row.role_match.flags]
    return "\n".join(lines) + "\n"


def _csv_safe(value: str) -> str:
    """A candidate's name like `=HYPERLINK(...)` must not become a spreadsheet formula."""
    if value[:1] in ("=", "+", "@", "\t", "\r") or (value[:1] == "-" and not _is_number(value)):
        return "'" + value
    return value


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def _md_cell(value: str) -> str:
    return value.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _md_text(value: str) -> str:
    """Candidate text outside a table: no headings, lists or links can be injected."""
    escaped = value.replace("\\", "\\\\").replace("\n", " ")
    for char in "*_`[]<>#|":
        escaped = escaped.replace(char, "\\" + char)
    return escaped


def _md_quote(value: str) -> str:
    return "“" + _md_text(value) + "”"
