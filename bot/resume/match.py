"""Each requirement of the role judged met or not against the résumé, with a quote.

The model proposes; the code decides. A requirement is met only when the model says so and
its quote is verbatim in the visible, cleaned résumé text. Hidden text and grader talk were
removed before the model saw anything, so they can neither be quoted nor persuade it.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field

from bot.interview.evidence import is_verbatim
from bot.interview.manipulation import strip_patterns
from bot.llm.types import LLM, ChatMessage
from bot.prompts import Role
from bot.resume.parse import ParsedResume
from bot.resume.types import CleanResume, RequirementMatch, ResumeFlag, RoleMatch, Verdict

log = logging.getLogger(__name__)

PROMPT_FILE = Path(__file__).resolve().parents[2] / "prompts" / "resume" / "match.yaml"
MAX_RESUME_CHARS = 12_000  # a few pages; the rest is not sent (and so cannot be quoted)


class JudgedItem(BaseModel):
    """What the model answers for one requirement (unverified)."""

    model_config = ConfigDict(extra="forbid")

    id: str
    met: bool
    quote: str = Field(default="", max_length=400)


class Judgements(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[JudgedItem]


def clean_resume(parsed: ParsedResume) -> CleanResume:
    """Visible text with grader talk taken out; both kinds of removal flagged."""
    flags = [ResumeFlag(kind="hidden_text", excerpt=h[:300]) for h in parsed.hidden]
    text, removed = strip_patterns(parsed.text)
    flags.extend(ResumeFlag(kind="grader_instruction", excerpt=r.excerpt[:300]) for r in removed)
    if flags:
        log.warning("résumé flagged: %s", ", ".join(sorted({f.kind for f in flags})))
    return CleanResume(text=text.strip()[:MAX_RESUME_CHARS], flags=flags)


def _prompt() -> tuple[str, str]:
    raw = PROMPT_FILE.read_bytes()
    system = str(yaml.safe_load(raw)["system"])
    return system, hashlib.sha256(raw).hexdigest()[:12]


async def match_resume(llm: LLM, role: Role, resume: CleanResume) -> RoleMatch:
    system, version = _prompt()
    wanted = "\n".join(f"- {r.id}: {r.text.en}" for r, _ in role.requirements.all())
    messages: list[ChatMessage] = [
        {"role": "system", "content": system},
        {
            "role": "user",
            "content": f"Requirements:\n{wanted}\n\n<resume>\n{resume.text}\n</resume>",
        },
    ]
    answer = await llm.structured(messages, Judgements, max_tokens=800)
    by_id = {item.id: item for item in answer.value.items}
    return RoleMatch(
        role_id=role.id,
        requirements=[
            _verify(r.id, r.text.en, must, by_id.get(r.id), resume.text)
            for r, must in role.requirements.all()
        ],
        flags=resume.flags,
        model=answer.model,
        prompt_version=version,
    )


def _verify(
    req_id: str, text: str, must: bool, item: JudgedItem | None, resume_text: str
) -> RequirementMatch:
    def result(met: bool, verdict: Verdict, quote: str | None = None) -> RequirementMatch:
        return RequirementMatch(
            id=req_id, text=text, must_have=must, met=met, quote=quote, verdict=verdict
        )

    if item is None:
        return result(False, "not_answered")
    if not item.met:
        return result(False, "not_shown")
    if not is_verbatim(item.quote, [resume_text]):
        log.info("requirement %s: the model's quote is not in the résumé; not met", req_id)
        return result(False, "quote_not_in_resume")
    return result(True, "verified", item.quote.strip())
