"""The résumé slice's data: what is kept of a résumé and the "Match with the role" section.

Plain pydantic models, importing nothing of the bot, so that the interview's report and state
(the bottom of its layers) can hold them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class ResumeFlag(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["hidden_text", "grader_instruction"]
    excerpt: str


class CleanResume(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    text: str
    flags: list[ResumeFlag] = Field(default_factory=list)


class InvitedResume(CleanResume):
    """A résumé the hiring manager attached to an invitation, stored with it until the
    candidate redeems it (then it is the interview's résumé) or the retention purge."""

    filename: str = ""
    attached_by: str = ""
    attached_at: datetime


Verdict = Literal["verified", "not_shown", "quote_not_in_resume", "not_answered"]


class RequirementMatch(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    text: str
    must_have: bool
    met: bool
    quote: str | None  # verbatim in the résumé whenever met is True
    verdict: Verdict


class RoleMatch(BaseModel):
    """The "Match with the role" section: apart from, and never mixed into, interview scores."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    role_id: str
    requirements: list[RequirementMatch]
    flags: list[ResumeFlag]
    model: str
    prompt_version: str

    @property
    def must_haves_met(self) -> tuple[int, int]:
        must = [r for r in self.requirements if r.must_have]
        return sum(r.met for r in must), len(must)
