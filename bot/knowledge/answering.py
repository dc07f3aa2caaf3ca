"""A grounded answer: retrieve, ask the model to answer from the passages only, check it.

The model answers as JSON ({answerable, answer, cited}), which small models manage better
than free text with rules. Its answer is then checked, not trusted: cited numbers must be
passages it was given, every number in the answer must occur in those passages, and an
answer without a citation is no answer. An answer that passes is then read once more by the
model, as a narrower question ("do these passages state the answer to this question?"):
a small model that answers from a passage on a neighbouring topic (the company party's date
for a question on the year-end bonus) says no to that far more often than it declines the
question itself. Anything that fails is a decline: say so plainly, invent nothing, and
offer a person.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from pydantic import BaseModel

from bot.domain import Source
from bot.errors import LLMBadOutput
from bot.knowledge.prompt import GroundedPrompt
from bot.knowledge.types import KnowledgeSearch, Passage
from bot.llm.types import LLM, ChatMessage, Usage

log = logging.getLogger(__name__)

# A passage less similar than this (standard deviations above its language's average) is
# taken as unrelated. On the sample handbook the right passage scored 2.2 to 4.6; the
# best passage for questions it cannot answer 1.9 to 3.6: the model decides the rest.
MIN_RELEVANCE = 2.0
# ...and standing out is not enough when everything is far: a question sharing nothing
# with the handbook still has a "best" passage. multilingual-e5-small scores even unrelated
# text above 0.7, so this floor matters for other models (BOT_EMBEDDINGS_BASE_URL).
MIN_COSINE = 0.15
_MARKER = re.compile(r"\s?\[(\d{1,2})\]")
_CLOSING = ".。!！?？"
_NUMBER = re.compile(r"\d+(?:[.,:]\d+)*")


MAX_ANSWER_CHARS = 2000
MAX_CITED = 10


class GroundedAnswer(BaseModel):
    """The model's structured answer. Every field is required and unbounded in the schema:
    with a default and a length bound in the JSON schema, vLLM's guided decoding made
    Qwen2.5-1.5B write `"answer": ""` for 36 of 38 answerable questions (kb-eval). The
    bounds are applied by `check` instead."""

    answerable: bool
    answer: str
    cited: list[int]


class SupportCheck(BaseModel):
    """The second reading's verdict: a single boolean, so the check is cheap and cannot
    rewrite the answer."""

    supported: bool


@dataclass(frozen=True, slots=True)
class GroundedReply:
    answered: bool
    text: str  # the answer with its [n] markers; "" for a decline
    sources: tuple[Source, ...] = ()
    passages: Sequence[Passage] = ()
    cited: Sequence[Passage] = ()
    model: str = ""
    usage: Usage | None = None
    reason: str = ""  # why it declined, for the log


def relevant(passages: Sequence[Passage]) -> list[Passage]:
    return [
        p
        for p in passages
        if (p.similarity or 0.0) >= MIN_RELEVANCE and (p.cosine or 0.0) >= MIN_COSINE
    ]


class GroundedAnswerer:
    def __init__(
        self,
        knowledge: KnowledgeSearch,
        prompt: GroundedPrompt,
        *,
        company: str,
        k: int = 4,
        check_answers: bool = True,
    ) -> None:
        self.knowledge = knowledge
        self.prompt = prompt
        self.company = company
        self.k = k
        self.check_answers = check_answers

    def messages(self, question: str, lang: str, passages: Sequence[Passage]) -> list[ChatMessage]:
        user = self.prompt.question.format(
            passages=_numbered(passages), question=question, language=self.prompt.language(lang)
        )
        return [
            {"role": "system", "content": self.prompt.system.format(company=self.company)},
            {"role": "user", "content": user},
        ]

    def check_messages(self, question: str, reply: GroundedReply) -> list[ChatMessage]:
        """The second reading: only the passages the answer cites, and the answer without
        its markers (the numbers would not match the renumbered passages)."""
        user = self.prompt.check.format(
            passages=_numbered(reply.cited),
            question=question,
            answer=_MARKER.sub("", reply.text).strip(),
        )
        return [
            {"role": "system", "content": self.prompt.check_system.format(company=self.company)},
            {"role": "user", "content": user},
        ]

    async def answer(
        self, llm: LLM, query: str, lang: str, *, session_id: str | None = None
    ) -> GroundedReply:
        found = await self.knowledge.search(query, self.k)
        passages = relevant(found)
        if not passages:
            return GroundedReply(False, "", passages=found, reason="no relevant passage")
        try:
            result = await llm.structured(
                self.messages(query, lang, passages),
                GroundedAnswer,
                max_tokens=300,  # a short answer's JSON; small models stop well before
                session_id=session_id,
            )
        except LLMBadOutput:
            log.warning("kb: the model's answer did not validate; declining")
            return GroundedReply(False, "", passages=passages, reason="invalid JSON")
        reply = check(result.value, passages, result.model, result.usage)
        if not reply.answered or not self.check_answers:
            return reply
        return await self._second_reading(llm, query, reply, session_id)

    async def _second_reading(
        self, llm: LLM, query: str, reply: GroundedReply, session_id: str | None
    ) -> GroundedReply:
        try:
            verdict = await llm.structured(
                self.check_messages(query, reply),
                SupportCheck,
                max_tokens=20,  # {"supported": false}
                session_id=session_id,
            )
        except LLMBadOutput:
            log.warning("kb: the second reading did not validate; declining")
            return _withdrawn(reply, reply.usage, "the second reading did not validate")
        usage = (
            reply.usage + verdict.usage
            if reply.usage and verdict.usage
            else reply.usage or verdict.usage
        )
        if not verdict.value.supported:
            log.info("kb: declined (the second reading found the answer not in its passages)")
            return _withdrawn(
                reply, usage, "the second reading found the answer not in its passages"
            )
        return replace(reply, usage=usage)


def check(
    value: GroundedAnswer, passages: Sequence[Passage], model: str, usage: Usage | None
) -> GroundedReply:
    """The model's answer, kept only if it is grounded in the passages it cites."""

    def decline(reason: str) -> GroundedReply:
        log.info("kb: declined (%s)", reason)
        return GroundedReply(False, "", passages=passages, model=model, usage=usage, reason=reason)

    answer = value.answer.strip()[:MAX_ANSWER_CHARS]
    if not value.answerable or not answer:
        return decline("the model found no answer in the passages")
    valid = range(1, len(passages) + 1)
    marked = [int(n) for n in _MARKER.findall(answer)]
    numbers = sorted({n for n in [*marked, *value.cited[:MAX_CITED]] if n in valid})
    if not numbers:
        return decline("no citation of a given passage")
    text = _MARKER.sub(lambda m: m.group(0) if int(m.group(1)) in valid else "", answer).strip()
    bare = _MARKER.sub("", text).strip()
    facts = _NUMBER.findall(bare)
    searchable = [p.text + " " + p.title for p in passages]
    invented = [n for n in facts if not any(n in t for t in searchable)]
    if invented:
        return decline(f"numbers not in the passages: {invented[:3]}")
    recited = _recited(numbers, facts, searchable)
    if recited != numbers:
        log.info(
            "kb: citations %s moved to %s, the passages holding the answer's numbers",
            numbers,
            recited,
        )
    if recited != numbers or not any(n in valid for n in marked):
        text = _cite_at_end(bare, recited)
    numbers = recited
    cited = [passages[n - 1] for n in numbers]
    sources = tuple(Source(n, _where(p), p.source) for n, p in zip(numbers, cited, strict=True))
    return GroundedReply(True, text, sources, passages, cited, model, usage)


def _recited(cited: list[int], facts: Sequence[str], searchable: Sequence[str]) -> list[int]:
    """The citations that carry the answer's numbers: the model's own where they hold one of
    them, and for a number none of those holds, the first given passage that does (every
    number is in some passage: checked before). A small model often cites the passage beside
    the one it read (Qwen2.5-1.5B cited the shuttle bus's 07:40 to the leave carry-over
    rules), and a wrong source is a defect even when the answer is right. An answer without
    numbers keeps the model's citations: the second reading checks those. `searchable[n-1]`
    is passage n's text and title."""
    if not facts:
        return cited
    kept = [n for n in cited if any(fact in searchable[n - 1] for fact in facts)]
    for fact in facts:
        if not any(fact in searchable[n - 1] for n in kept):
            kept.append(next(n for n, t in enumerate(searchable, start=1) if fact in t))
    return sorted(set(kept))


def _cite_at_end(text: str, numbers: Sequence[int]) -> str:
    """ "25 days." -> "25 days [1].": the markers before the closing punctuation."""
    markers = "".join(f"[{n}]" for n in numbers)
    body = text.rstrip(_CLOSING)
    return f"{body} {markers}{text[len(body) :]}"


def _withdrawn(reply: GroundedReply, usage: Usage | None, reason: str) -> GroundedReply:
    """A checked answer taken back: a decline like any other (nothing cited), with the
    passages it was given kept for the hand-off and `chatbot kb report`."""
    return replace(reply, answered=False, text="", sources=(), cited=(), usage=usage, reason=reason)


def _numbered(passages: Sequence[Passage]) -> str:
    return "\n\n".join(f"[{n}] {_where(p)}\n{p.text}" for n, p in enumerate(passages, start=1))


def _where(passage: Passage) -> str:
    return " > ".join(part for part in (passage.title, passage.heading) if part)
