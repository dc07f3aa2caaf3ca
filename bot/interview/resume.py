"""The interview's side of résumés: one sent during the interview is kept (cleaned text and
flags) in the state, and at evaluation matched to the role's requirements.

The match is a section of the report of its own ("Match with the role"); scoring never reads
the résumé, so question and competency scores are the same with or without one. Nothing from
the résumé goes into a prompt the candidate's replies come from.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from bot.domain import DocumentRef, Message
from bot.errors import LLMBadOutput
from bot.flows.base import TurnContext
from bot.interview.report import EvaluationReport
from bot.interview.state import WAITING_ON_CANDIDATE, InterviewState, StoredResume
from bot.prompts import Role
from bot.resume.match import match_resume
from bot.resume.types import CleanResume
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


async def with_role_match(
    ctx: TurnContext, role: Role, state: InterviewState, report: EvaluationReport
) -> EvaluationReport:
    """The report with its "Match with the role" section, when a résumé was sent. A match
    that fails leaves the scores as they are and says so in the section."""
    if state.resume is None or not role.requirements.all():
        return report
    resume = CleanResume(text=state.resume.text, flags=state.resume.flags)
    try:
        match = await match_resume(ctx.llm, role, resume)
    except LLMBadOutput as exc:
        log.error("role match of conversation %s failed: %s", ctx.conversation_id, exc)
        return report.model_copy(update={"role_match_error": "the match could not be made"})
    return report.model_copy(update={"role_match": match})
