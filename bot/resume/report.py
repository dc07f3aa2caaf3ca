"""The "Match with the role" section as text, in the reader's language; its own section,
printed apart from the interview scores."""

from __future__ import annotations

from bot.resume.types import RoleMatch
from bot.texts import text


def render_match(match: RoleMatch, lang: str = "en") -> str:
    met, total = match.must_haves_met
    lines = [f"{text('resume_match_title', lang)} ({met}/{total} {text('resume_must_have', lang)})"]
    for must in (True, False):
        group = [r for r in match.requirements if r.must_have is must]
        if not group:
            continue
        lines.append(text("resume_must_have" if must else "resume_nice_to_have", lang) + ":")
        for req in group:
            mark = text("resume_met", lang) if req.met else text("resume_not_met", lang)
            quote = f' "{req.quote}"' if req.quote else ""
            lines.append(f"  - {req.text}: {mark}{quote}")
    if match.flags:
        lines.append(text("resume_flagged", lang))
        lines.extend(f"  ! {flag.kind}: {flag.excerpt}" for flag in match.flags)
    return "\n".join(lines)
