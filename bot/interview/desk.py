"""The hiring desk: what hiring managers see and do, in the core's own types.

Reports on stored evaluations, transcripts, decisions, invitations and the list of
interviews under way. No platform types here: the Slack adapter renders these views and
calls these methods after checking who may decide. Stored evaluations and states are read
through `EvaluationReport` and `InterviewState`, never by string keys.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.domain import InputKind
from bot.errors import BotError
from bot.interview.report import EvaluationReport, QuestionReport
from bot.interview.state import InterviewState
from bot.prompts import PromptLibrary
from bot.resume.types import CleanResume, InvitedResume
from bot.store.api import (
    ConversationRecord,
    ConversationStatus,
    DecisionRecord,
    EvaluationRecord,
    InvitationRecord,
    Role,
    Store,
)

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
    voice_model: str = ""  # answered by voice: the ASR model that transcribed it


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
    # The whole typed report: per-question covered and missed points with their quotes,
    # flags with excerpts, follow-ups asked.
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
    def __init__(self, store: Store, prompts: PromptLibrary, invitation_ttl_days: int = 14) -> None:
        self.store, self.prompts = store, prompts
        # BOT_INVITATION_TTL_DAYS: how long a link works; 0, for ever
        self.invitation_ttl = timedelta(days=invitation_ttl_days) if invitation_ttl_days else None

    # ---- reading ------------------------------------------------------------------------

    async def report(self, evaluation_id: int) -> InterviewReport:
        record = await self.store.get_evaluation(evaluation_id)
        conversation = await self.store.get_conversation(record.conversation_id)
        evaluation = load_report(record)
        state = InterviewState.from_stored(conversation.state)
        role_id = evaluation.role or state.role_id or ""
        texts = self._question_texts(role_id)
        return InterviewReport(
            evaluation_id=record.id,
            conversation_id=conversation.id,
            ok=record.status == "ok",
            candidate=await self.candidate_name(conversation),
            role_id=role_id,
            role_title=self.role_title(role_id),
            recommendation=evaluation.recommendation or "",
            recommendation_reason=evaluation.recommendation_reason,
            average_score=evaluation.average_score,
            competencies=tuple(
                CompetencyView(
                    id=c.id,
                    name=c.name,
                    score=c.score or 0.0,
                    rationale=c.rationale,
                    evidence=tuple(c.evidence),
                    disagreement=c.disagreement,
                    manipulation_flagged=any(
                        q.flags for q in evaluation.questions if q.competency == c.id
                    ),
                )
                for c in evaluation.competencies
            ),
            questions=tuple(_question(q, texts) for q in evaluation.questions if q.score),
            strengths=tuple(evaluation.strengths),
            concerns=tuple(evaluation.concerns),
            flags=tuple(evaluation.flags),
            manipulation_excerpts=tuple(evaluation.manipulation_excerpts()),
            unverified_quotes_dropped=evaluation.unverified_quotes_dropped,
            follow_ups=evaluation.follow_ups,
            duration_minutes=evaluation.duration_minutes,
            created_at=record.created_at,
            decisions=tuple(await self.store.decisions(record.id)),
            error=record.error,
            evaluation=evaluation,
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

    @staticmethod
    def state_of(conversation: ConversationRecord) -> InterviewState:
        return InterviewState.from_stored(conversation.state)

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
            state = InterviewState.from_stored(conversation.state)
            failed = state.stage == FAILED_STAGE
            rows.append(
                StatusRow(
                    conversation_id=conversation.id,
                    candidate=await self.candidate_name(conversation),
                    role_title=self.role_title(state.role_id or ""),
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
            latest = load_report(ok[-1])
            rows.append(
                StatusRow(
                    conversation_id=conversation.id,
                    candidate=await self.candidate_name(conversation),
                    role_title=self.role_title(latest.role),
                    state="awaiting_decision",
                    progress=latest.recommendation or "",
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

    async def invite(
        self,
        role: str,
        candidate_name: str,
        created_by: str,
        resume: CleanResume | None = None,
        filename: str = "",
    ) -> InvitationRecord:
        """A single-use invitation for `role`, expiring after BOT_INVITATION_TTL_DAYS; the
        candidate's deep link carries its token. A résumé (already parsed and cleaned) goes
        with it, to become the interview's."""
        role_id = self.find_role(role)
        token = secrets.token_urlsafe(16)
        now = datetime.now(UTC)
        expires_at = now + self.invitation_ttl if self.invitation_ttl is not None else None
        attached = None
        if resume is not None:
            attached = InvitedResume(
                text=resume.text,
                flags=resume.flags,
                filename=filename[:200],
                attached_by=created_by,
                attached_at=now,
            ).model_dump(mode="json")
        invitation = await self.store.create_invitation(
            token, role_id, candidate_name, created_by, attached, expires_at
        )
        await self.store.audit(
            "invitation",
            created_by,
            f"role:{role_id}",
            {
                "candidate_name": candidate_name,
                "token_prefix": token[:4],
                "expires_at": expires_at.isoformat() if expires_at else None,
            },
        )
        if resume is not None:  # what was attached, not what it says (no résumé text here)
            await self.store.audit(
                "invitation_resume",
                created_by,
                f"role:{role_id}",
                {
                    "token_prefix": token[:4],
                    "chars": len(resume.text),
                    "flags": sorted({f.kind for f in resume.flags}),
                },
            )
        return invitation

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

    def _progress(self, state: InterviewState) -> str:
        role = self.prompts.roles.get(state.role_id or "")
        if state.stage == "asking" and role is not None:
            return state.progress(len(role.questions))
        return state.stage.replace("_", " ")


def load_report(record: EvaluationRecord) -> EvaluationReport:
    """A stored evaluation as the typed report (old ones too); a failed one is empty."""
    return EvaluationReport.from_stored(
        record.data,
        model=record.model,
        prompt_version=record.prompt_version,
        role_version=record.role_version,
    )


def _question(question: QuestionReport, texts: dict[str, str]) -> QuestionView:
    return QuestionView(
        id=question.id,
        competency=question.competency,
        text=texts.get(question.id, ""),
        score=question.score or 0.0,
        rationale=question.rationale,
        disagreement=question.disagreement,
        voice_model=(question.asr_model or "?") if question.answered_by == "voice" else "",
    )
