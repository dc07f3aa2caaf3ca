"""The interview's side of résumés: one sent during the interview (or attached by the hiring
manager to the invitation) is kept, cleaned text and flags, in the state, and matched once to
the role's requirements: when a résumé follow-up could first be asked, else at evaluation.

The match is a section of the report of its own ("Match with the role"); scoring never reads
the résumé, so question and competency scores are the same with or without one. The only
résumé text the candidate ever sees is a verified snippet in a fixed follow-up template
(bot.interview.resume_probe); no résumé text goes into a prompt their replies come from.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from bot.domain import DocumentRef, Message
from bot.errors import LLMBadOutput
from bot.flows.base import TurnContext
from bot.interview.report import EvaluationReport
from bot.interview.resume_probe import could_ask, next_probe
from bot.interview.state import WAITING_ON_CANDIDATE, InterviewState, StoredResume
from bot.prompts import Question, Role
from bot.resume.match import match_resume
from bot.resume.types import CleanResume, InvitedResume, RoleMatch
from bot.texts import text

log = logging.getLogger(__name__)


def keep_resume(
    ctx: TurnContext, state: InterviewState, resume: CleanResume, document: DocumentRef
) -> Message:
    """Store the résumé (a later one replaces an earlier one) and say so; after the
    interview it is too late: the evaluation is made."""
    if state.stage not in WAITING_ON_CANDIDATE:
        log.info("conversation %s: résumé after the interview, not kept", ctx.conversation_id)
        return Message(text("resume_too_late", state.lang))
    replaced = state.resume is not None
    state.resume = StoredResume(
        text=resume.text,
        flags=resume.flags,
        filename=document.filename[:200],
        received_at=datetime.now(UTC),
    )
    log.info(
        "conversation %s: résumé kept (%d chars, %d flags%s)",
        ctx.conversation_id,
        len(resume.text),
        len(resume.flags),
        ", replacing the earlier one" if replaced else "",
    )
    return Message(text("resume_received", state.lang))


def attach_invited(state: InterviewState, resume: InvitedResume) -> None:
    """The résumé the hiring manager attached to the invitation, as the interview's résumé
    (one the candidate sends later replaces it)."""
    state.resume = StoredResume(
        text=resume.text,
        flags=resume.flags,
        filename=resume.filename[:200],
        received_at=resume.attached_at,
        source="invitation",
    )


async def resume_follow_up(
    ctx: TurnContext, role: Role, question: Question, state: InterviewState
) -> str | None:
    """The résumé follow-up to ask after this answer, recorded in the state, or None. The
    role match is made here the first time one could be asked (one structured call)."""
    if not could_ask(role, question, state):
        return None
    await ensure_match(ctx, role, state)
    probe = next_probe(role, question, state)
    if probe is None:
        return None
    state.resume_probes.append(probe)
    state.awaiting_resume_snippet = probe.snippet
    log.info(
        "conversation %s: résumé follow-up on %s after %s",
        ctx.conversation_id,
        probe.requirement_id,
        question.id,
    )
    return probe.text


async def ensure_match(ctx: TurnContext, role: Role, state: InterviewState) -> RoleMatch | None:
    """The stored match, or a new one stored in the state. A match that fails is not tried
    again during the interview (the evaluation tries once more); an unreachable model ends
    the turn like any other call, to be retried."""
    resume = state.resume
    if resume is None or not role.requirements.all():
        return None
    if resume.match is not None or resume.match_failed:
        return resume.match
    try:
        match = await match_resume(ctx.llm, role, CleanResume(text=resume.text, flags=resume.flags))
    except LLMBadOutput as exc:
        log.error("role match of conversation %s failed: %s", ctx.conversation_id, exc)
        state.resume = resume.model_copy(update={"match_failed": True})
        return None
    state.resume = resume.model_copy(update={"match": match})
    return match


async def with_role_match(
    ctx: TurnContext, role: Role, state: InterviewState, report: EvaluationReport
) -> EvaluationReport:
    """The report with its "Match with the role" section, when there is a résumé: the match
    made during the interview, else one made now. A match that fails leaves the scores as
    they are and says so in the section."""
    if state.resume is None or not role.requirements.all():
        return report
    resume = state.resume
    match = resume.match
    if match is None:
        try:
            match = await match_resume(
                ctx.llm, role, CleanResume(text=resume.text, flags=resume.flags)
            )
        except LLMBadOutput as exc:
            log.error("role match of conversation %s failed: %s", ctx.conversation_id, exc)
            return report.model_copy(update={"role_match_error": "the match could not be made"})
    return report.model_copy(update={"role_match": match})
