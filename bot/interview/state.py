"""The interview's typed state: what a conversation of the interview flow stores.

Every consumer (the hiring desk, export, the idle jobs) reads a conversation's state
through `InterviewState.from_stored`, never by string keys.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from bot.domain import JSON
from bot.flows.base import FlowState
from bot.interview.report import AnsweredBy
from bot.resume.types import ResumeFlag, RoleMatch

Stage = Literal["choose_role", "consent", "asking", "done", "evaluation_failed", "human_requested"]
# Stages a candidate can be idle in; "evaluation_failed" waits on us, not on them.
WAITING_ON_CANDIDATE: tuple[Stage, ...] = ("choose_role", "consent", "asking")


class VoiceFacts(BaseModel):
    """What is kept of a voice answer: its transcript and facts, not the audio."""

    text: str
    duration_s: float
    audio_sha256: str
    asr_model: str


class StoredResume(BaseModel):
    """A résumé the candidate sent: its visible text with grader talk removed, and what was
    removed (as flags). Never the file. Read only by the role match, never by scoring."""

    text: str
    flags: list[ResumeFlag] = Field(default_factory=list)
    filename: str = ""
    received_at: datetime
    source: Literal["candidate", "invitation"] = "candidate"  # invitation: the hiring manager's
    # The role match, made once (when a résumé follow-up could first be asked, else at the
    # evaluation) and reused by the report; reset with the résumé it belongs to.
    match: RoleMatch | None = None
    match_failed: bool = False  # tried during the interview; the evaluation tries once more


class ResumeProbe(BaseModel):
    """A résumé follow-up asked: the fixed template with a verified snippet, nothing else."""

    requirement_id: str
    question_id: str
    snippet: str  # verbatim in the cleaned résumé; the text the candidate was shown
    text: str  # the whole follow-up as asked


class Answer(BaseModel):
    question_id: str
    text: str
    follow_up: bool = False  # an answer to a follow-up question
    answered_by: AnsweredBy = "text"
    voice: VoiceFacts | None = None  # set when answered_by == "voice"
    # The answer to a résumé follow-up: the snippet it quoted, which is never the
    # candidate's own evidence (scoring takes it out of the answer first).
    prompted_with: str | None = None


class InterviewState(FlowState):
    stage: Stage = "choose_role"
    role_id: str | None = None
    question_index: int = 0
    answers: list[Answer] = Field(default_factory=list)
    follow_ups: dict[str, int] = Field(default_factory=dict)  # question id -> asked
    # The follow-up questions asked, verbatim, per question id (for the report).
    follow_up_texts: dict[str, list[str]] = Field(default_factory=dict)
    awaiting_follow_up: bool = False
    consent_shown: bool = False  # the full notice was shown; later reminders are short
    consented_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    # Sticky language: set by the first substantive answer; switched only by /lang or by
    # two consecutive substantive answers in the other language.
    lang_settled: bool = False
    other_lang_answers: int = 0
    # A transcript shown back ("I heard: ..."), waiting for the candidate to confirm it.
    pending_voice: VoiceFacts | None = None
    resume: StoredResume | None = None  # the latest résumé sent; for the role match only
    resume_probes: list[ResumeProbe] = Field(default_factory=list)
    awaiting_resume_snippet: str | None = None  # the follow-up waiting is a résumé one

    @classmethod
    def from_stored(cls, data: JSON) -> InterviewState:
        return cls.model_validate(data)

    def answers_to(self, question_id: str) -> str:
        return "\n\n".join(self.texts_of(question_id))

    def texts_of(self, question_id: str) -> list[str]:
        return [a.text for a in self.answers if a.question_id == question_id]

    def report_facts(self) -> dict[str, object]:
        """What the evaluation report says about the interview itself (EvaluationReport)."""
        duration = None
        if self.started_at and self.finished_at:
            duration = round((self.finished_at - self.started_at).total_seconds() / 60, 1)
        return {
            "follow_ups": sum(self.follow_ups.values()),
            "duration_minutes": duration,
            "language": self.lang,
            "consented_at": self.consented_at.isoformat() if self.consented_at else None,
        }

    def progress(self, questions: int) -> str:
        """Where the interview stands, for a person: "question 3 of 6", "done", ..."""
        if self.stage == "asking":
            return f"question {min(self.question_index + 1, questions)} of {questions}"
        return self.stage.replace("_", " ")
