"""Whether an answer needs a follow-up question: only for a gap it really has.

The completeness check (bot.interview.judging.check) names what is missing; a STAR part
the candidate labelled ("Result: ...") is present whatever the model says, and when every
part is labelled there is no call at all. The probe itself is a fixed, neutral template
per kind (bot.interview.kinds), so it never reveals a reference point and every candidate
hears the same probe for the same gap. The budget per question is the flow's business.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from bot.errors import LLMBadOutput
from bot.flows.base import TurnContext
from bot.interview import judging
from bot.interview.kinds import FollowUp, kind_of
from bot.interview.manipulation import strip_patterns
from bot.prompts import Question, Role

log = logging.getLogger(__name__)


async def follow_up_for(
    ctx: TurnContext, role: Role, question: Question, texts: Sequence[str]
) -> FollowUp | None:
    kind = kind_of(question)
    # What addresses the grader is no answer: it neither fills a gap nor is checked.
    answer = "\n\n".join(kept for kept, _ in map(strip_patterns, texts) if kept)
    labelled = kind.labelled(answer)
    if not kind.needs_check(labelled):
        return None
    try:
        checked = await judging.check(ctx, role, question, answer)
    except LLMBadOutput:
        log.warning("completeness check of %s/%s unusable; no follow-up", role.id, question.id)
        return None
    missing_parts = [p for p in checked.value.missing_star_parts if p not in labelled]
    return kind.follow_up(question, checked.value.missing_reference_points, missing_parts)
