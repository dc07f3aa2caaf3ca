"""Exports: a candidate's own data (their right of access), and the interviews table for
hiring teams (`chatbot export interviews`). Every export is written to the audit log.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from bot.export_render import render_interviews
from bot.interview.report import EvaluationReport, QuestionReport
from bot.interview.state import InterviewState
from bot.resume.types import RoleMatch
from bot.store.admin_queries import conversations_of, messages_of
from bot.store.api import ConversationRecord, ConversationStatus, EvaluationRecord, Store
from bot.store.sql import SqlStore

ExportFormat = Literal["json", "csv", "md"]
FORMATS: tuple[ExportFormat, ...] = ("json", "csv", "md")
EXPORT_EVENT = "export"
__all__ = ["FORMATS", "ExportFormat", "InterviewRow", "render_interviews"]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


# ---- a candidate's own data ------------------------------------------------------------


async def export_user_data(
    store: SqlStore, user_id: int, requested_by: str = "self"
) -> dict[str, Any]:
    """Everything stored about one person, as JSON-ready data: who they are, their
    conversations with every message in them, the messages they wrote in shared threads,
    the evaluations about them and the decisions on those. Who decided is left out: that
    is another person's data. Audited as an export of this person."""
    user = await store.get_user(user_id)
    conversations = await conversations_of(store, user_id)
    messages = await messages_of(store, user_id, [c.id for c in conversations])
    evaluations: list[dict[str, Any]] = []
    for conversation in conversations:
        for evaluation in await store.evaluations_for(conversation.id):
            decisions = await store.decisions(evaluation.id)
            evaluations.append(
                {
                    "conversation_id": conversation.id,
                    "status": evaluation.status,
                    "result": evaluation.data,
                    "model": evaluation.model,
                    "prompt_version": evaluation.prompt_version,
                    "created_at": _iso(evaluation.created_at),
                    "decisions": [
                        {"decision": d.decision, "decided_at": _iso(d.decided_at)}
                        for d in decisions
                    ],
                }
            )
    data = {
        "user": {
            "platform": user.platform.value,
            "platform_user_id": user.platform_user_id,
            "display_name": user.display_name,
            "locale": user.locale,
            "created_at": _iso(user.created_at),
        },
        "conversations": [
            {
                "id": c.id,
                "flow": c.flow,
                "status": c.status.value,
                "state": c.state,
                "created_at": _iso(c.created_at),
                "updated_at": _iso(c.updated_at),
            }
            for c in conversations
        ],
        "messages": [
            {
                "conversation_id": m.conversation_id,
                "role": m.role.value,
                "text": m.text,
                "created_at": _iso(m.created_at),
            }
            for m in messages
        ],
        "evaluations": evaluations,
    }
    # The subject is their platform id, so that erasing them pseudonymises this entry too.
    details = {"what": "own_data", "messages": len(messages), "evaluations": len(evaluations)}
    await store.audit(EXPORT_EVENT, requested_by, user.platform_user_id, details)
    return data


# ---- the interviews table --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InterviewRow:
    conversation_id: int
    candidate: str
    platform: str
    role: str
    status: str
    stage: str
    started_at: str | None
    finished_at: str | None
    duration_minutes: float | None
    evaluation: str  # "ok" | "failed" | "" (none yet)
    recommendation: str
    average_score: float | None
    competency_scores: dict[str, float | None] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)
    follow_ups: int = 0
    decision: str = ""
    decided_at: str | None = None
    recommendation_reason: str = ""
    scoring: str = ""  # "evidence-v2", or "holistic-v1" for evaluations stored before it
    # per question: score, covered points with their quotes, missed points, flags with
    # their excerpts, the follow-ups asked (the evaluation report's own model)
    questions: tuple[QuestionReport, ...] = ()
    role_match: RoleMatch | None = None  # the résumé's "Match with the role" section


def _chosen_evaluation(evaluations: Sequence[EvaluationRecord]) -> EvaluationRecord | None:
    """The newest successful evaluation, else the newest failed one."""
    ok = [e for e in evaluations if e.status == "ok"]
    chosen = ok or list(evaluations)
    return chosen[-1] if chosen else None


def _minutes(started: datetime | None, finished: datetime | None) -> float | None:
    if started is None or finished is None:
        return None
    return round((finished - started).total_seconds() / 60, 1)


async def _row(store: Store, conversation: ConversationRecord) -> InterviewRow:
    state = InterviewState.from_stored(conversation.state)
    candidate, platform = "", conversation.key.platform.value
    if conversation.user_id is not None:
        user = await store.get_user(conversation.user_id)
        candidate = user.display_name or user.platform_user_id
    started = state.started_at or conversation.created_at
    finished = state.finished_at
    if finished is None and conversation.status is not ConversationStatus.ACTIVE:
        finished = conversation.updated_at
    evaluation = _chosen_evaluation(await store.evaluations_for(conversation.id))
    ok = evaluation is not None and evaluation.status == "ok"
    report = (
        EvaluationReport.from_stored(
            evaluation.data,
            model=evaluation.model,
            prompt_version=evaluation.prompt_version,
            role_version=evaluation.role_version,
        )
        if evaluation is not None and ok
        else EvaluationReport()
    )
    decisions = await store.decisions(evaluation.id) if evaluation is not None else []
    asked = sum(len(q.follow_ups) for q in report.questions)
    duration = report.duration_minutes
    return InterviewRow(
        conversation_id=conversation.id,
        candidate=candidate,
        platform=platform,
        role=state.role_id or report.role or "",
        status=conversation.status.value,
        stage=state.stage,
        started_at=_iso(started),
        finished_at=_iso(finished),
        duration_minutes=duration if duration is not None else _minutes(started, finished),
        evaluation=evaluation.status if evaluation is not None else "",
        recommendation=report.recommendation or "",
        average_score=report.average_score,
        competency_scores=report.competency_scores(),
        flags=list(report.flags),
        follow_ups=report.follow_ups or asked or sum(state.follow_ups.values()),
        decision=decisions[-1].decision if decisions else "",
        decided_at=_iso(decisions[-1].decided_at) if decisions else None,
        recommendation_reason=report.recommendation_reason,
        scoring=report.scoring if evaluation is not None and evaluation.status == "ok" else "",
        questions=tuple(report.questions),
        role_match=report.role_match,
    )


async def interview_rows(store: Store) -> list[InterviewRow]:
    """One row per interview conversation, oldest first; restarted ones left out."""
    conversations = await store.list_conversations(flow="interview")
    return [
        await _row(store, c) for c in conversations if c.status is not ConversationStatus.SUPERSEDED
    ]


async def export_interviews(store: Store, fmt: ExportFormat, actor: str) -> str:
    """The interviews table in `fmt`, audited as an export by `actor`."""
    rows = await interview_rows(store)
    rendered = render_interviews(rows, fmt)
    details = {"what": "interviews", "format": fmt, "rows": len(rows)}
    await store.audit(EXPORT_EVENT, actor, "interviews", details)
    return rendered
