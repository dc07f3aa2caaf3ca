"""Résumé follow-ups: the only way the interviewer ever refers to a résumé.

A fixed, neutral template (`follow_up_resume` in bot.texts) filled with one short snippet:
the verified quote of a requirement the résumé meets, checked again here against the cleaned
résumé, and refused when it touches what was flagged (hidden text, grader talk), speaks of the
grading, shares words with a reference point, or carries a link or markup. Never model free
text, so a résumé cannot make the interviewer say anything it was not written to say.

At most `role.resume_follow_ups` per interview, after the answer to the question a requirement
names (`question:` in the role file), within that question's follow-up budget. The candidate's
answer is their own; the snippet it was shown is taken out of it before scoring
(bot.interview.evidence.remove_quoted), so nothing of the résumé becomes evidence.
"""

from __future__ import annotations

import logging
import re

from bot.interview.evidence import cut_at_word, is_verbatim, normalise
from bot.interview.manipulation import strip_patterns, talks_about_grading
from bot.interview.state import InterviewState, ResumeProbe, StoredResume
from bot.lang import CJK
from bot.prompts import Question, Role
from bot.texts import text

log = logging.getLogger(__name__)

MAX_SNIPPET_CHARS = 90  # a phrase the candidate recognises, not a paragraph of their résumé
SHINGLE_WORDS = 4  # this many words in a row shared with flagged text or a reference point
SHINGLE_CJK_CHARS = 6
# Links, mentions, markup and control characters: a snippet is plain words or nothing.
_UNSAFE = re.compile(r"https?:|www\.|://|[@<>`*_~|\[\]{}\\]|[\x00-\x1f\x7f]", re.IGNORECASE)
_SPACE = re.compile(r"\s+")


def could_ask(role: Role, question: Question, state: InterviewState) -> bool:
    """Whether a résumé follow-up may come after this question (before any model call)."""
    if state.resume is None or len(state.resume_probes) >= role.resume_follow_ups:
        return False
    asked = {p.requirement_id for p in state.resume_probes}
    return any(r.question == question.id and r.id not in asked for r, _ in role.requirements.all())


def next_probe(role: Role, question: Question, state: InterviewState) -> ResumeProbe | None:
    """The follow-up for the first requirement of this question the résumé meets with a
    snippet that passes every check (must-haves first), or None."""
    resume = state.resume
    if resume is None or resume.match is None or not could_ask(role, question, state):
        return None
    asked = {p.requirement_id for p in state.resume_probes}
    judged = {r.id: r for r in resume.match.requirements}
    for requirement, _ in role.requirements.all():
        if requirement.question != question.id or requirement.id in asked:
            continue
        found = judged.get(requirement.id)
        if found is None or not found.met or not found.quote:
            continue
        snippet = safe_snippet(found.quote, resume, role)
        if snippet is None:
            log.info("résumé follow-up for %s/%s refused: unsafe snippet", role.id, requirement.id)
            continue
        return ResumeProbe(
            requirement_id=requirement.id,
            question_id=question.id,
            snippet=snippet,
            text=text("follow_up_resume", state.lang, snippet=snippet),
        )
    return None


def safe_snippet(quote: str, resume: StoredResume, role: Role) -> str | None:
    """`quote` (shortened at a word) when it may be shown to the candidate, else None."""
    snippet = _shorten(_SPACE.sub(" ", quote).strip().strip("\"'“”‘’「」"))
    if not is_verbatim(snippet, [resume.text]) or _UNSAFE.search(snippet):
        return None
    if talks_about_grading(snippet) or strip_patterns(snippet)[1]:
        return None
    if any(_overlaps(snippet, flag.excerpt) for flag in resume.flags):
        return None
    points = (point for q in role.questions for point in q.reference_points)
    if any(_overlaps(snippet, point) for point in points):
        return None
    return snippet


def mask_probes(content: str, state: InterviewState) -> str:
    """A stored reply as the acknowledging model sees it: a résumé follow-up without its
    snippet, so that no résumé text reaches a prompt the candidate's replies come from."""
    for probe in state.resume_probes:
        if content == probe.text:
            return content.replace(probe.snippet, "…")
    return content


def _shorten(snippet: str) -> str:
    if len(snippet) <= MAX_SNIPPET_CHARS:
        return snippet
    # A prefix stays verbatim; cut_at_word's ellipsis is not part of it.
    return cut_at_word(snippet, MAX_SNIPPET_CHARS + 1).removesuffix("…").rstrip()


def _overlaps(snippet: str, other: str) -> bool:
    """Whether the two share a run of words (either inside the other, or SHINGLE_WORDS in a
    row; for Chinese SHINGLE_CJK_CHARS characters), compared normalised."""
    a, b = normalise(snippet), normalise(other)
    if not a or not b:
        return False
    if a in b or b in a:
        return True
    return bool(_shingles(a) & _shingles(b))


def _shingles(plain: str) -> set[str]:
    words = plain.split()
    runs = {" ".join(words[i : i + SHINGLE_WORDS]) for i in range(len(words) - SHINGLE_WORDS + 1)}
    cjk = "".join(CJK.findall(plain))
    runs |= {cjk[i : i + SHINGLE_CJK_CHARS] for i in range(len(cjk) - SHINGLE_CJK_CHARS + 1)}
    return runs
