"""What the engine and jobs may ask of storage, in the core's own types.

`bot.store.sql.SqlStore` implements it over SQLAlchemy (SQLite or PostgreSQL); nothing
outside `bot.store` sees a session, a row or a SQL dialect.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from bot.domain import JSON, ConversationKey, Platform, UserRef
from bot.errors import BotError


class ConversationStatus(StrEnum):
    ACTIVE = "active"
    FINISHED = "finished"  # the flow reached its end (interview evaluated...)
    CANCELLED = "cancelled"  # the user withdrew
    SUPERSEDED = "superseded"  # a new conversation was started on the same key
    BLOCKED = "blocked"  # the platform refuses delivery (user blocked the bot)
    EXPIRED = "expired"
    HANDED_OFF = "handed_off"  # people of the help desk have it: the bot relays, never answers


# Statuses a conversation continues in: new input on its key belongs to it.
OPEN_STATUSES = (ConversationStatus.ACTIVE, ConversationStatus.HANDED_OFF)


class MessageStatus(StrEnum):
    PENDING = "pending"  # a user message stored, not yet answered
    ANSWERED = "answered"
    REJECTED = "rejected"  # bad input, answered with an explanation, never sent to a flow
    SENT = "sent"  # an assistant message


class DeliveryState(StrEnum):
    PENDING = "pending"  # stored with its turn, not yet accepted by the platform
    DELIVERED = "delivered"  # the platform accepted it
    FAILED = "failed"  # given up: the platform refused it for good (blocked, too many tries)


class Role(StrEnum):
    USER = "user"
    ASSISTANT = "assistant"


@dataclass(frozen=True, slots=True)
class ConversationRecord:
    id: int
    key: ConversationKey
    user_id: int | None
    flow: str
    state: JSON
    status: ConversationStatus
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class MessageRecord:
    id: int
    conversation_id: int
    role: Role
    kind: str  # InputKind for user messages; "text" for replies
    text: str
    status: MessageStatus
    created_at: datetime
    action_id: str = ""
    # for replies: what producing them cost
    model: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cached_tokens: int | None = None
    ttft_ms: int | None = None
    latency_ms: int | None = None


@dataclass(frozen=True, slots=True)
class NewReply:
    """An assistant message with what it cost, stored when a turn completes."""

    text: str
    model: str = ""
    prompt_version: str = ""
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cached_tokens: int | None = None
    ttft_ms: int | None = None
    latency_ms: int | None = None
    delivery: JSON | None = None  # what to show (an outbox payload); None: nothing to deliver
    kind: str = "text"  # "sources": a list of cited documents, shown but never in a history


@dataclass(frozen=True, slots=True)
class OutboxRecord:
    """One reply's delivery: its payload, state and retry schedule."""

    id: int
    conversation_id: int
    message_id: int | None
    payload: JSON
    state: DeliveryState
    attempts: int
    next_attempt_at: datetime
    last_error: str = ""
    created_at: datetime | None = None  # written with its turn


@dataclass(frozen=True, slots=True)
class NewEvaluation:
    status: str  # "ok" | "failed"
    data: JSON  # the validated evaluation (empty when failed)
    raw_output: str  # what the model returned, for audit
    model: str
    prompt_version: str
    role_version: str = ""
    error: str = ""


@dataclass(frozen=True, slots=True)
class EvaluationRecord:
    id: int
    conversation_id: int
    status: str
    data: JSON
    raw_output: str
    model: str
    prompt_version: str
    role_version: str
    error: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class UserRecord:
    id: int
    platform: Platform
    platform_user_id: str
    display_name: str
    locale: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class InvitationRecord:
    token: str
    role: str
    candidate_name: str
    created_by: str
    created_at: datetime
    used_at: datetime | None = None
    used_by_user_id: int | None = None
    # A résumé the hiring manager attached (bot.resume.types.InvitedResume as JSON); handed
    # out once, by use_invitation, which clears it.
    resume: JSON | None = None
    expires_at: datetime | None = None  # None: the link never expires

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now


class InvitationExpired(BotError):
    """use_invitation: the invitation exists and was never used, but its link has expired.
    Nothing was changed; `invitation` is the stored one."""

    def __init__(self, invitation: InvitationRecord) -> None:
        super().__init__(f"invitation {invitation.token[:4]}... expired at {invitation.expires_at}")
        self.invitation = invitation


@dataclass(frozen=True, slots=True)
class DecisionRecord:
    id: int
    evaluation_id: int
    decision: str  # "advance" | "reject" | "needs_review"
    decided_by: str  # the platform user id of the person who decided
    decided_at: datetime


@dataclass(frozen=True, slots=True)
class AuditRecord:
    id: int
    event: str  # "evaluation" | "decision" | "deletion" | "export" | ...
    actor: str
    subject: str
    details: JSON
    at: datetime


@dataclass(frozen=True, slots=True)
class TurnCommit:
    """Everything one turn changes, written in one transaction."""

    conversation_id: int
    answered_message_ids: list[int]
    state: JSON
    status: ConversationStatus = ConversationStatus.ACTIVE
    replies: list[NewReply] = field(default_factory=list)
    evaluation: NewEvaluation | None = None
    delivered: bool = False  # the replies were already shown (a renderer without an outbox)
    rejected_message_ids: list[int] = field(default_factory=list)  # answered with a refusal


class Store(Protocol):
    async def upgrade(self) -> None:
        """Apply migrations up to head."""

    async def close(self) -> None: ...

    async def ping(self) -> bool: ...

    async def ensure_user(self, user: UserRef) -> int: ...

    async def event_seen(self, platform: Platform, event_id: str) -> bool: ...

    async def active_conversation(self, key: ConversationKey) -> ConversationRecord | None: ...

    async def create_conversation(
        self,
        key: ConversationKey,
        user_id: int | None,
        flow: str,
        state: JSON,
        *,
        supersede: bool = True,
    ) -> ConversationRecord:
        """A new active conversation; any other active one on the key becomes SUPERSEDED.
        With `supersede=False` (the caller saw none active), one created meanwhile by
        another process is returned instead: the first-message race has one winner."""

    async def get_conversation(self, conversation_id: int) -> ConversationRecord: ...

    async def set_conversation_status(
        self, conversation_id: int, status: ConversationStatus
    ) -> None: ...

    async def record_user_message(
        self,
        conversation_id: int,
        *,
        kind: str,
        text: str,
        action_id: str = "",
        event: tuple[Platform, str] | None = None,
        user_id: int | None = None,
    ) -> MessageRecord | None:
        """Store a PENDING user message; None when the platform event was already seen."""

    async def mark_message(self, message_id: int, status: MessageStatus) -> None: ...

    async def pending_messages(self, conversation_id: int) -> list[MessageRecord]: ...

    async def conversations_with_pending(
        self, *, stored_before: datetime | None = None
    ) -> list[int]:
        """Open conversations with a PENDING message (stored before `stored_before`)."""

    async def history(self, conversation_id: int) -> list[MessageRecord]:
        """Answered user messages and sent replies, oldest first."""

    async def recent_history(self, conversation_id: int, limit: int) -> list[MessageRecord]:
        """What a prompt may contain, the newest `limit` of it, oldest first: the user's
        answered text and button answers (never rejected input) and the bot's replies."""

    async def commit_turn(self, turn: TurnCommit) -> int | None:
        """Write one turn; returns the new evaluation's id when the turn stored one."""

    async def get_evaluation(self, evaluation_id: int) -> EvaluationRecord: ...

    # ---- the outbox (bot/delivery.py) ---------------------------------------------------

    async def pending_deliveries(self, conversation_id: int) -> list[OutboxRecord]:
        """The conversation's undelivered replies, oldest first (due or not)."""

    async def conversations_with_due_deliveries(self, now: datetime) -> list[int]: ...

    async def mark_delivered(self, outbox_id: int) -> None: ...

    async def mark_delivery_failed(
        self, outbox_id: int, error: str, retry_at: datetime | None
    ) -> None:
        """One more failed attempt; retried at `retry_at`, or given up (FAILED) when None."""

    async def delivery_counts(self) -> dict[DeliveryState, int]: ...

    def conversation_lock(self, conversation_id: int) -> AbstractAsyncContextManager[None]:
        """Held while a turn runs: a PostgreSQL advisory lock, so one turn at a time across
        processes; a no-op on SQLite, whose database is one process's."""

    # ---- people, hiring and audit -------------------------------------------------------

    async def get_user(self, user_id: int) -> UserRecord: ...

    async def list_conversations(
        self,
        *,
        flow: str | None = None,
        statuses: tuple[ConversationStatus, ...] = (),
        user_id: int | None = None,
        since: datetime | None = None,
    ) -> list[ConversationRecord]:
        """Oldest first; `user_id` and `since` (created at or after) narrow it further."""

    async def evaluations_for(self, conversation_id: int) -> list[EvaluationRecord]: ...

    async def create_invitation(
        self,
        token: str,
        role: str,
        candidate_name: str,
        created_by: str,
        resume: JSON | None = None,
        expires_at: datetime | None = None,
    ) -> InvitationRecord:
        """`expires_at`: when the link stops working (None: never)."""

    async def use_invitation(
        self, token: str, user_id: int, *, now: datetime | None = None
    ) -> InvitationRecord | None:
        """Mark a single-use invitation used, atomically; None if unknown or already used;
        InvitationExpired if unused but expired at `now` (default: the current time).
        Its résumé is in the record returned and no longer in the invitation (it moves to
        the conversation, where /delete and retention find it)."""

    async def record_decision(
        self, evaluation_id: int, decision: str, decided_by: str
    ) -> DecisionRecord: ...

    async def decisions(self, evaluation_id: int) -> list[DecisionRecord]: ...

    async def audit(self, event: str, actor: str, subject: str, details: JSON) -> None: ...

    async def audit_log(
        self, limit: int = 100, *, event: str | None = None, since: datetime | None = None
    ) -> list[AuditRecord]:
        """The newest `limit` entries (of one `event`, at or after `since`), newest first."""

    async def delete_user_data(self, user_id: int, requested_by: str) -> None:
        """Erase a person's messages, evaluations and identity; keep a tombstone (a row in
        the tombstones table and an audit entry) that says a deletion happened, and when."""

    async def purge_older_than(self, cutoff: datetime, *, now: datetime | None = None) -> int:
        """Delete conversations (and their messages and evaluations) last updated before
        `cutoff`; returns how many. Invitations expired unused by `now` lose their résumé and
        candidate name; those expired before `cutoff` are deleted."""


# ---- the help desk (bot.support_desk; implemented by bot.store.feedback) ---------------


@dataclass(frozen=True, slots=True)
class NewHelpAnswer:
    conversation_id: int
    question: str
    answer: str
    outcome: str  # "answered" | "declined" | "pinned"
    cited: bool = False
    sources: list[JSON] = field(default_factory=list)  # [{"title", "source", "text"}]


@dataclass(frozen=True, slots=True)
class HelpAnswerRecord:
    id: int
    conversation_id: int
    question: str
    answer: str
    outcome: str
    cited: bool
    sources: list[JSON]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class HandoffRecord:
    id: int
    conversation_id: int
    status: str  # "open" | "resolved"
    requested_by: str
    question: str
    desk_channel: str
    desk_ts: str
    created_at: datetime
    resolved_at: datetime | None = None
    resolved_by: str = ""


@dataclass(frozen=True, slots=True)
class HelpDeskCounts:
    answered: int = 0  # answers from the model that were not declines
    declined: int = 0
    pinned: int = 0  # served from prompts/support/answers.yaml
    cited: int = 0  # model answers with at least one citation
    escalated: int = 0  # hand-offs opened
    feedback_up: int = 0
    feedback_down: int = 0


@dataclass(frozen=True, slots=True)
class ReportLine:
    """A question the handbook's owners should look at: declined, or rated down."""

    answer_id: int
    question: str
    outcome: str
    thumbs_down: int
    asked_at: datetime


class HelpDeskStore(Protocol):
    async def record_answer(self, answer: NewHelpAnswer) -> int: ...

    async def get_answer(self, answer_id: int) -> HelpAnswerRecord | None: ...

    async def last_answer(self, conversation_id: int) -> HelpAnswerRecord | None: ...

    async def record_feedback(
        self, answer_id: int, conversation_id: int, rating: str, user_key: str
    ) -> bool:
        """Store (or change) one person's rating; False for an answer of another
        conversation or none at all."""

    async def open_handoff(
        self, conversation_id: int, requested_by: str, question: str
    ) -> HandoffRecord | None:
        """Hand the conversation to people (status HANDED_OFF) and audit it, atomically;
        None when it already has an open hand-off."""

    async def set_handoff_thread(self, handoff_id: int, channel: str, ts: str) -> None: ...

    async def cancel_handoff(self, handoff_id: int, reason: str) -> None:
        """The desk could not be told: the conversation is the bot's again."""

    async def handoff_of_thread(self, channel: str, ts: str) -> HandoffRecord | None:
        """The open hand-off discussed in this escalation thread."""

    async def handoff_of_conversation(self, conversation_id: int) -> HandoffRecord | None:
        """The conversation's open hand-off."""

    async def resolve_handoff(self, handoff_id: int, resolved_by: str) -> HandoffRecord | None:
        """Close it and give the conversation back to the bot, atomically; None when it was
        closed already (two people pressed Resolved)."""

    async def help_desk_counts(self) -> HelpDeskCounts: ...

    async def help_desk_report(self, limit: int = 200) -> list[ReportLine]: ...
