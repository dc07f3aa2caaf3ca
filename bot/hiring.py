"""The hiring desk: what hiring managers see and do, in the core's own types.

Reports on stored evaluations, transcripts, decisions, invitations and the list of
interviews under way. No platform types here: the Slack adapter renders these views and
calls these methods after checking who may decide.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.domain import InputKind
from bot.errors import BotError
from bot.interview.report import EvaluationReport
from bot.prompts import PromptLibrary
from bot.store.api import ConversationRecord, ConversationStatus, DecisionRecord, Role, Store

INTERVIEW = "interview"
DECISIONS = ("advance", "reject", "needs_review")
FAILED_STAGE = "evaluation_failed"


class UnknownRole(BotError):
    """An invitation named a role that has no role file; `roles` lists those that do."""

    def __init__(self, role: str, roles: list[str]) -> None:
        super().__init__(f"unknown role {role!r}")
        self.role = role
        self.roles = roles


@dataclass(frozen=True, slots=True)
class CompetencyView:
    id: str
    name: str
    score: float
    rationale: str
    evidence: tuple[str, ...]  # quotes verified verbatim in the candidate's answers
    disagreement: bool
    manipulation_flagged: bool


@dataclass(frozen=True, slots=True)
class QuestionView:
    id: str
    competency: str
    text: str  # the question as asked (English), "" when the role file no longer has it
    score: float
    rationale: str
    disagreement: bool


@dataclass(frozen=True, slots=True)
class InterviewReport:
    evaluation_id: int
    conversation_id: int
    ok: bool
    candidate: str
    role_id: str
    role_title: str
    recommendation: str  # advance | hold | reject ("" when the evaluation failed)
    recommendation_reason: str
    average_score: float | None
    competencies: tuple[CompetencyView, ...]
    questions: tuple[QuestionView, ...]
    strengths: tuple[str, ...]
    concerns: tuple[str, ...]
    flags: tuple[str, ...]
    manipulation_excerpts: tuple[tuple[str, str], ...]  # (question id, removed text)
    unverified_quotes_dropped: int
    follow_ups: int
    duration_minutes: float | None
    created_at: datetime
    decisions: tuple[DecisionRecord, ...] = ()
    error: str = ""
    # the typed report itself: per question, covered points with quotes, missed points,
    # flags with excerpts and follow-ups (the Slack report's details read it)
    evaluation: EvaluationReport | None = None


@dataclass(frozen=True, slots=True)
class StatusRow:
    conversation_id: int
    candidate: str
    role_title: str
    state: str  # "in_progress" | "evaluation_failed" | "awaiting_decision"
    progress: str  # "question 3 of 6", a recommendation, ...
    updated_at: datetime
    evaluation_id: int | None = None


class HiringDesk:
    def __init__(self, store: Store, prompts: PromptLibrary) -> None:
        self.store, self.prompts = store, prompts

    # ---- reading ------------------------------------------------------------------------

    async def report(self, evaluation_id: int) -> InterviewReport:
        evaluation = await self.store.get_evaluation(evaluation_id)
        conversation = await self.store.get_conversation(evaluation.conversation_id)
        data = evaluation.data
        role_id = str(data.get("role") or conversation.state.get("role_id") or "")
        texts = self._question_texts(role_id)
        return InterviewReport(
            evaluation_id=evaluation.id,
            conversation_id=conversation.id,
            ok=evaluation.status == "ok",
            candidate=await self.candidate_name(conversation),
            role_id=role_id,
            role_title=self.role_title(role_id),
            recommendation=str(data.get("recommendation", "")),
            recommendation_reason=str(data.get("recommendation_reason", "")),
            average_score=_float_or_none(data.get("average_score")),
            competencies=tuple(_competency(c) for c in data.get("competencies", [])),
            questions=tuple(_question(q, texts) for q in data.get("questions", [])),
            strengths=tuple(str(s) for s in data.get("strengths", [])),
            concerns=tuple(str(s) for s in data.get("concerns", [])),
            flags=tuple(str(f) for f in data.get("flags", [])),
            manipulation_excerpts=tuple(
                (str(m.get("question_id", "")), str(m.get("text", "")))
                for m in data.get("manipulation_excerpts", [])
            ),
            unverified_quotes_dropped=int(data.get("unverified_quotes_dropped", 0) or 0),
            follow_ups=int(data.get("follow_ups", 0) or 0),
            duration_minutes=_float_or_none(data.get("duration_minutes")),
            created_at=evaluation.created_at,
            decisions=tuple(await self.store.decisions(evaluation.id)),
            error=evaluation.error,
            evaluation=EvaluationReport.from_stored(
                data,
                model=evaluation.model,
                prompt_version=evaluation.prompt_version,
                role_version=evaluation.role_version,
            )
            if evaluation.status == "ok"
            else None,
        )

    async def transcript(
        self, conversation_id: int, requested_by: str | None = None
    ) -> list[tuple[str, str]]:
        """(role, text) of every answer and reply, oldest first; who asked for
        it is audited, as a transcript is a candidate's personal data."""
        if requested_by is not None:
            await self.store.audit(
                "transcript", requested_by, f"conversation:{conversation_id}", {}
            )
        return [
            (m.role.value, m.text)
            for m in await self.store.history(conversation_id)
            # what the candidate wrote and what they were told; not the taps and commands
            if m.role is Role.ASSISTANT or m.kind == InputKind.TEXT
        ]

    async def conversation(self, conversation_id: int) -> ConversationRecord:
        return await self.store.get_conversation(conversation_id)

    async def candidate_name(self, conversation: ConversationRecord) -> str:
        if conversation.user_id is None:
            return conversation.key.user_id
        user = await self.store.get_user(conversation.user_id)
        return user.display_name or user.platform_user_id

    def role_title(self, role_id: str) -> str:
        role = self.prompts.roles.get(role_id)
        return role.title.en if role is not None else role_id or "?"

    async def status(self) -> list[StatusRow]:
        """Interviews under way, then finished ones with an ok evaluation and no decision."""
        rows: list[StatusRow] = []
        active = await self.store.list_conversations(
            flow=INTERVIEW, statuses=(ConversationStatus.ACTIVE,)
        )
        for conversation in active:
            state = conversation.state
            failed = state.get("stage") == FAILED_STAGE
            rows.append(
                StatusRow(
                    conversation_id=conversation.id,
                    candidate=await self.candidate_name(conversation),
                    role_title=self.role_title(str(state.get("role_id") or "")),
                    state=FAILED_STAGE if failed else "in_progress",
                    progress=self._progress(state),
                    updated_at=conversation.updated_at,
                )
            )
        finished = await self.store.list_conversations(
            flow=INTERVIEW, statuses=(ConversationStatus.FINISHED,)
        )
        for conversation in finished:
            evaluations = [e for e in await self.store.evaluations_for(conversation.id)]
            ok = [e for e in evaluations if e.status == "ok"]
            if not ok or await self.store.decisions(ok[-1].id):
                continue
            rows.append(
                StatusRow(
                    conversation_id=conversation.id,
                    candidate=await self.candidate_name(conversation),
                    role_title=self.role_title(str(ok[-1].data.get("role") or "")),
                    state="awaiting_decision",
                    progress=str(ok[-1].data.get("recommendation", "")),
                    updated_at=conversation.updated_at,
                    evaluation_id=ok[-1].id,
                )
            )
        return rows

    # ---- acting -------------------------------------------------------------------------

    async def decide(self, evaluation_id: int, decision: str, decided_by: str) -> DecisionRecord:
        """Record a person's decision (the store audits it in the same transaction)."""
        if decision not in DECISIONS:
            raise ValueError(f"unknown decision {decision!r}")
        return await self.store.record_decision(evaluation_id, decision, decided_by)

    async def invite(self, role: str, candidate_name: str, created_by: str) -> str:
        """A single-use invitation token for `role`; the candidate's deep link carries it."""
        role_id = self.find_role(role)
        token = secrets.token_urlsafe(16)
        await self.store.create_invitation(token, role_id, candidate_name, created_by)
        await self.store.audit(
            "invitation",
            created_by,
            f"role:{role_id}",
            {"candidate_name": candidate_name, "token_prefix": token[:4]},
        )
        return token

    def find_role(self, role: str) -> str:
        wanted = role.strip().casefold()
        for role_id, definition in self.prompts.roles.items():
            if wanted in (role_id.casefold(), definition.title.en.casefold()):
                return role_id
        raise UnknownRole(role, sorted(self.prompts.roles))

    # ---- helpers ------------------------------------------------------------------------

    def _question_texts(self, role_id: str) -> dict[str, str]:
        role = self.prompts.roles.get(role_id)
        return {q.id: q.text.en for q in role.questions} if role is not None else {}

    def _progress(self, state: dict[str, Any]) -> str:
        stage = str(state.get("stage", ""))
        role = self.prompts.roles.get(str(state.get("role_id") or ""))
        if stage == "asking" and role is not None:
            index = min(int(state.get("question_index", 0)) + 1, len(role.questions))
            return f"question {index} of {len(role.questions)}"
        return stage.replace("_", " ")


def _float_or_none(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _competency(raw: dict[str, Any]) -> CompetencyView:
    return CompetencyView(
        id=str(raw.get("id", "")),
        name=str(raw.get("name", "")),
        score=float(raw.get("score", 0)),
        rationale=str(raw.get("rationale", "")),
        evidence=tuple(str(e) for e in raw.get("evidence", [])),
        disagreement=bool(raw.get("disagreement")),
        manipulation_flagged=bool(raw.get("model_flagged_manipulation")),
    )


def _question(raw: dict[str, Any], texts: dict[str, str]) -> QuestionView:
    question_id = str(raw.get("question_id", ""))
    return QuestionView(
        id=question_id,
        competency=str(raw.get("competency", "")),
        text=texts.get(question_id, ""),
        score=float(raw.get("score", 0)),
        rationale=str(raw.get("rationale", "")),
        disagreement=bool(raw.get("disagreement")),
    )
