"""The interview's idle jobs: remind a candidate who went quiet, then expire the interview.

What they do is decided from the database alone (the candidate's last message, the audit
log), never from process memory: an interview that went idle while the bot was down is
reminded, then expired, when it is back. `check_idle_interviews` takes `now`, so tests
drive time; bot.jobs schedules it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.domain import Message, utcnow
from bot.engine import Engine
from bot.interview.state import WAITING_ON_CANDIDATE, InterviewState
from bot.store.admin_queries import audit_at, last_audit_at, last_user_message_at
from bot.store.api import ConversationRecord, ConversationStatus
from bot.store.sql import SqlStore
from bot.texts import text

log = logging.getLogger(__name__)

INTERVIEW_FLOW = "interview"
REMINDER_EVENT = "reminder"
EXPIRY_EVENT = "expiry"


@dataclass(frozen=True, slots=True)
class IdlePolicy:
    """When an unfinished interview is idle: counted from the candidate's last message (or
    the start). The reminder comes at `reminder_after`; expiry at `expire_after`, and never
    sooner after the reminder than the gap between the two, so a candidate whose reminder
    was late (the bot was down) still gets the whole grace period."""

    reminder_after: timedelta = timedelta(hours=24)
    expire_after: timedelta = timedelta(hours=72)
    # Unfinished stages a candidate can be idle in; "evaluation_failed" waits on us.
    stages: tuple[str, ...] = WAITING_ON_CANDIDATE

    def __post_init__(self) -> None:
        if self.expire_after <= self.reminder_after:
            raise ValueError("expire_after must be longer than reminder_after")

    @property
    def grace(self) -> timedelta:
        return self.expire_after - self.reminder_after


@dataclass
class IdleCheckResult:
    reminded: list[int] = field(default_factory=list)
    expired: list[int] = field(default_factory=list)


def _subject(conversation_id: int) -> str:
    return f"conversation:{conversation_id}"


async def check_idle_interviews(
    engine: Engine, store: SqlStore, policy: IdlePolicy, now: datetime | None = None
) -> IdleCheckResult:
    """Remind idle candidates once per idle spell; expire interviews idle for too long."""
    now = now or utcnow()
    result = IdleCheckResult()
    for conversation, active_at, reminded_at in await _idle_candidates(store, policy):
        idle = now - active_at
        if reminded_at is None:
            if idle >= policy.reminder_after and await _claim(
                store, conversation, REMINDER_EVENT, active_at, now
            ):
                await _remind(engine, conversation, policy)
                result.reminded.append(conversation.id)
        elif (
            idle >= policy.expire_after
            and now - reminded_at >= policy.grace
            and await _claim(store, conversation, EXPIRY_EVENT, active_at, now)
        ):
            await _expire(engine, conversation)
            result.expired.append(conversation.id)
    return result


async def _idle_candidates(
    store: SqlStore, policy: IdlePolicy
) -> list[tuple[ConversationRecord, datetime, datetime | None]]:
    """Unfinished interviews with when the candidate was last active and when they were
    reminded in this idle spell (None: not yet)."""
    active = await store.list_conversations(
        flow=INTERVIEW_FLOW, statuses=(ConversationStatus.ACTIVE,)
    )
    waiting = [c for c in active if InterviewState.from_stored(c.state).stage in policy.stages]
    ids = [c.id for c in waiting]
    last_message = await last_user_message_at(store, ids)
    reminders = await last_audit_at(store, REMINDER_EVENT, [_subject(i) for i in ids])
    found: list[tuple[ConversationRecord, datetime, datetime | None]] = []
    for conversation in waiting:
        active_at = max(
            last_message.get(conversation.id, conversation.created_at), conversation.created_at
        )
        reminded_at = reminders.get(_subject(conversation.id))
        if reminded_at is not None and reminded_at < active_at:
            reminded_at = None  # a reminder of an earlier idle spell: they answered since
        found.append((conversation, active_at, reminded_at))
    return found


async def _claim(
    store: SqlStore,
    conversation: ConversationRecord,
    event: str,
    active_at: datetime,
    now: datetime,
) -> bool:
    """Record that this process acts, after checking again under the conversation's lock:
    another worker (PostgreSQL, several processes) may have acted already, or the candidate
    may have just written."""
    subject = _subject(conversation.id)
    async with store.conversation_lock(conversation.id):
        current = await store.get_conversation(conversation.id)
        latest = (await last_user_message_at(store, [conversation.id])).get(conversation.id)
        done = (await last_audit_at(store, event, [subject])).get(subject)
        if (
            current.status is not ConversationStatus.ACTIVE
            or (latest is not None and latest > active_at)
            or (done is not None and done >= active_at)
        ):
            return False
        stage = InterviewState.from_stored(current.state).stage
        details = {"idle_since": active_at.isoformat(), "stage": stage}
        await audit_at(store, event, "bot", subject, details, now)
    return True


async def _remind(engine: Engine, conversation: ConversationRecord, policy: IdlePolicy) -> None:
    lang = InterviewState.from_stored(conversation.state).lang
    hours = max(1, round(policy.grace.total_seconds() / 3600))
    log.info("reminding the candidate of conversation %s", conversation.id)
    await engine.notify(conversation.id, [Message(text("interview_reminder", lang, hours=hours))])


async def _expire(engine: Engine, conversation: ConversationRecord) -> None:
    lang = InterviewState.from_stored(conversation.state).lang
    log.info("conversation %s expired", conversation.id)
    # notify() stores the notice, sets the status and announces ConversationEnded("expired").
    await engine.notify(
        conversation.id,
        [Message(text("interview_expired", lang))],
        status=ConversationStatus.EXPIRED,
    )
