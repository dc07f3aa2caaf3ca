"""The retake rule: one interview per candidate and role within BOT_RETAKE_AFTER_DAYS, unless
the hiring team sent an invitation after that interview began.

An earlier interview counts once the candidate was past the consent step (they saw
questions): one that finished, expired, was withdrawn or restarted mid-way, or is still under
way (a /start with other parameters would restart it). Declining consent, or a conversation
replaced before any question, does not count. A /start with the same parameters during an
interview never gets here: it is answered like /help (bot.starts). Every refusal is written to the
audit log, which is where `/interview status` finds the recent attempts.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.domain import utcnow
from bot.interview.state import InterviewState, Stage
from bot.store.api import ConversationRecord, ConversationStatus, InvitationRecord, Store

log = logging.getLogger(__name__)

INTERVIEW = "interview"
RETAKE_REFUSED = "retake_refused"  # the audit event
# stages in which the candidate has not seen a question yet
NOT_STARTED: tuple[Stage, ...] = ("choose_role", "consent")


@dataclass(frozen=True, slots=True)
class RetakeAttempt:
    """A refused attempt, as `/interview status` lists it."""

    user_id: int
    candidate: str
    role_id: str
    previous_conversation_id: int
    allowed_from: datetime
    at: datetime


def _was_taken(conversation: ConversationRecord, role_id: str) -> bool:
    state = InterviewState.from_stored(conversation.state)
    if state.role_id != role_id:
        return False
    return conversation.status is ConversationStatus.FINISHED or state.stage not in NOT_STARTED


class RetakePolicy:
    def __init__(self, store: Store, window_days: int) -> None:
        self.store, self.window = store, timedelta(days=window_days)

    async def previous_interview(self, user_id: int, role_id: str) -> ConversationRecord | None:
        """The latest interview this candidate took for `role_id` inside the window."""
        since = utcnow() - self.window
        taken = [
            c
            for c in await self.store.list_conversations(
                flow=INTERVIEW, user_id=user_id, since=since
            )
            if _was_taken(c, role_id)
        ]
        return max(taken, key=lambda c: c.created_at, default=None)

    async def refusal(
        self, user_id: int, role_id: str, invitation: InvitationRecord | None
    ) -> RetakeAttempt | None:
        """None when this start may go ahead; else the attempt, already audited."""
        previous = await self.previous_interview(user_id, role_id)
        if previous is None:
            return None
        if invitation is not None and invitation.created_at > previous.created_at:
            return None  # the hiring team invited them again after that interview
        attempt = RetakeAttempt(
            user_id=user_id,
            candidate=await self._candidate(user_id),
            role_id=role_id,
            previous_conversation_id=previous.id,
            allowed_from=previous.created_at + self.window,
            at=utcnow(),
        )
        await self.store.audit(
            RETAKE_REFUSED,
            f"user:{user_id}",
            f"role:{role_id}",
            {
                "previous_conversation": previous.id,
                "allowed_from": attempt.allowed_from.isoformat(),
                "invitation": invitation is not None,
            },
        )
        log.info(
            "retake refused: user %s, role %s, interview %s (allowed from %s)",
            user_id,
            role_id,
            previous.id,
            attempt.allowed_from.date(),
        )
        return attempt

    async def recent_attempts(self, days: int = 30) -> list[RetakeAttempt]:
        """Refused attempts of the last `days`, newest first."""
        entries = await self.store.audit_log(
            500, event=RETAKE_REFUSED, since=utcnow() - timedelta(days=days)
        )
        attempts = []
        for entry in entries:
            try:
                attempts.append(
                    RetakeAttempt(
                        user_id=int(entry.actor.removeprefix("user:")),
                        # the name is looked up, never audited: an erased person stays erased
                        candidate=await self._candidate(int(entry.actor.removeprefix("user:"))),
                        role_id=entry.subject.removeprefix("role:"),
                        previous_conversation_id=int(entry.details["previous_conversation"]),
                        allowed_from=datetime.fromisoformat(str(entry.details["allowed_from"])),
                        at=entry.at,
                    )
                )
            except (KeyError, ValueError, TypeError):
                log.warning("unreadable %s audit entry %s skipped", RETAKE_REFUSED, entry.id)
        return attempts

    async def _candidate(self, user_id: int) -> str:
        try:
            user = await self.store.get_user(user_id)
        except LookupError:  # erased since
            return f"user {user_id}"
        return user.display_name or user.platform_user_id
