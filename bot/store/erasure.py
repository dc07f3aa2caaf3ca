"""Erasing data: a person on request, old conversations on a retention schedule.

Both run inside the caller's transaction, so an erasure is all or nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import utcnow
from bot.store.models import (
    AuditEntry,
    Conversation,
    Decision,
    Evaluation,
    Handoff,
    HelpAnswer,
    HelpFeedback,
    Invitation,
    Message,
    ProcessedEvent,
    Tombstone,
    User,
)


def user_hash(platform: str, platform_user_id: str) -> str:
    """Who was erased, as evidence that does not keep the identity itself."""
    return hashlib.sha256(f"{platform}:{platform_user_id}".encode()).hexdigest()


async def delete_conversations(session: AsyncSession, conversation_ids: Sequence[int]) -> None:
    """Conversations with their messages, evaluations and the decisions on those."""
    if not conversation_ids:
        return
    evaluation_ids = select(Evaluation.id).where(Evaluation.conversation_id.in_(conversation_ids))
    await session.execute(delete(Decision).where(Decision.evaluation_id.in_(evaluation_ids)))
    await session.execute(
        delete(Evaluation).where(Evaluation.conversation_id.in_(conversation_ids))
    )
    for desk_table in (HelpFeedback, HelpAnswer, Handoff):  # the help desk's rows about them
        await session.execute(
            delete(desk_table).where(desk_table.conversation_id.in_(conversation_ids))
        )
    in_them = select(Message.id).where(Message.conversation_id.in_(conversation_ids))
    await _delete_messages(session, (await session.scalars(in_them)).all())
    await session.execute(delete(Conversation).where(Conversation.id.in_(conversation_ids)))


async def _delete_messages(session: AsyncSession, ids: Sequence[int]) -> None:
    # The dedupe rows stay (an event id says nothing about anyone) but lose their link.
    if not ids:
        return
    await session.execute(
        update(ProcessedEvent).where(ProcessedEvent.message_id.in_(ids)).values(message_id=None)
    )
    await session.execute(delete(Message).where(Message.id.in_(ids)))


async def erase_user(session: AsyncSession, user: User, requested_by: str) -> str:
    """Everything about `user`, leaving a tombstone and an audit entry; returns the hash."""
    hashed = user_hash(user.platform, user.platform_user_id)
    own = (
        await session.scalars(select(Conversation.id).where(Conversation.user_id == user.id))
    ).all()
    await delete_conversations(session, own)
    # What they wrote in conversations that are not theirs (a shared Slack thread).
    written = select(Message.id).where(Message.user_id == user.id)
    await _delete_messages(session, (await session.scalars(written)).all())
    # An invitation they used stays (the inviter's record) but no longer says who it was for.
    await session.execute(
        update(Invitation)
        .where(Invitation.used_by_user_id == user.id)
        .values(used_by_user_id=None, candidate_name="", resume=None)
    )
    # Their platform id where they acted (deciding, inviting, in the audit log).
    await _pseudonymise_actor(session, user.platform_user_id, hashed)
    await session.delete(user)
    now = utcnow()
    session.add(
        Tombstone(
            platform=user.platform, user_hash=hashed, deleted_at=now, requested_by=requested_by
        )
    )
    session.add(
        AuditEntry(
            event="deletion",
            actor=requested_by,
            subject=hashed,
            details={"platform": user.platform, "conversations": len(own)},
            at=now,
        )
    )
    return hashed


async def drop_invitation_resumes(session: AsyncSession, cutoff: datetime) -> int:
    """The résumés of invitations created before `cutoff` (by the retention schedule): an
    invitation nobody redeemed must not keep a résumé for ever. The invitation itself
    stays usable, without it. The number of résumés dropped."""
    old = (
        await session.scalars(
            select(Invitation.token).where(
                Invitation.created_at < cutoff, Invitation.resume.is_not(None)
            )
        )
    ).all()
    if old:
        await session.execute(
            update(Invitation).where(Invitation.token.in_(old)).values(resume=None)
        )
    return len(old)


async def strip_expired_invitations(session: AsyncSession, now: datetime) -> int:
    """Invitations whose link expired unused by `now` lose what they held about the
    candidate (the résumé, the name). The row stays, so a late click is still told the link
    expired rather than that it is unknown; `delete_expired_invitations` removes it later.
    How many were emptied."""
    stale = (
        await session.scalars(
            select(Invitation.token).where(
                Invitation.used_at.is_(None),
                Invitation.expires_at <= now,
                or_(Invitation.resume.is_not(None), Invitation.candidate_name != ""),
            )
        )
    ).all()
    if stale:
        await session.execute(
            update(Invitation)
            .where(Invitation.token.in_(stale))
            .values(resume=None, candidate_name="")
        )
    return len(stale)


async def delete_expired_invitations(session: AsyncSession, cutoff: datetime) -> int:
    """Invitations that expired unused before `cutoff` (the retention period ago), deleted."""
    old = (
        await session.scalars(
            select(Invitation.token).where(
                Invitation.used_at.is_(None), Invitation.expires_at < cutoff
            )
        )
    ).all()
    if old:
        await session.execute(delete(Invitation).where(Invitation.token.in_(old)))
    return len(old)


async def _pseudonymise_actor(session: AsyncSession, platform_user_id: str, hashed: str) -> None:
    await session.execute(
        update(Decision).where(Decision.decided_by == platform_user_id).values(decided_by=hashed)
    )
    await session.execute(
        update(Invitation)
        .where(Invitation.created_by == platform_user_id)
        .values(created_by=hashed)
    )
    await session.execute(
        update(AuditEntry).where(AuditEntry.actor == platform_user_id).values(actor=hashed)
    )
    await session.execute(
        update(AuditEntry).where(AuditEntry.subject == platform_user_id).values(subject=hashed)
    )
