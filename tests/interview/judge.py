"""A scripted judge for the interview's structured calls, answering from the request itself.

The fake LLM server serves these: each reply is built from what the bot sent (the schema's
items, the candidate's text between the tags), so a test scripts *what the model claims*
(which items are covered, with which quote; whether it flags, with which excerpt) and the
bot's own code decides what stands.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from bot.interview.judging import QUOTE_CHARS
from bot.interview.scoring import score_rule
from tests.fakes.llm_server import Answer

Body = dict[str, Any]
COMPLETE = Answer(json={"missing_star_parts": [], "missing_reference_points": []})
CLEAN = Answer(json={"excerpt": "", "addresses_grader": False})
_ANSWER = re.compile(r"<candidate_answer>\n(.*)\n</candidate_answer>", re.DOTALL)


def schema_name(body: Body) -> str:
    response_format = body.get("response_format") or {}
    return str(response_format.get("json_schema", {}).get("name", ""))


def items_of(body: Body) -> list[str]:
    return list(body["response_format"]["json_schema"]["schema"]["properties"])


def candidate_text(body: Body) -> str:
    match = _ANSWER.search(str(body["messages"][-1]["content"]))
    assert match is not None, "the candidate's text must be last, between the tags"
    return match.group(1)


def quotable(text: str) -> str:
    """The longest quote the schema allows, from the start of `text`."""
    return text[:QUOTE_CHARS]


def covering(count: int, items: list[str], quote: str) -> dict[str, Any]:
    return {
        key: {"quote": quote if n < count else "", "covered": n < count}
        for n, key in enumerate(items)
    }


def extraction(
    score: int = 4, quote: str | None = None, claims: Mapping[str, str] | None = None
) -> Callable[[Body], Answer]:
    """An extraction reply claiming enough items for `score` by the stated rule, each with
    `quote` (default: the candidate's whole text, so it verifies); or exactly `claims`."""

    def reply(body: Body) -> Answer:
        assert schema_name(body) == "Extraction", schema_name(body)
        items = items_of(body)
        if claims is not None:
            return Answer(
                json={k: {"quote": claims.get(k, ""), "covered": k in claims} for k in items}
            )
        count = next(c for c in range(len(items) + 1) if score_rule(c, len(items)) >= score)
        return Answer(json=covering(count, items, quote or quotable(candidate_text(body))))

    return reply


def nothing_located(body: Body) -> Answer:
    """The locate call's reply when no sentence states the items asked about."""
    assert schema_name(body) == "Location", schema_name(body)
    return Answer(json=dict.fromkeys(items_of(body), 0))


def flag(excerpt: str) -> Answer:
    return Answer(json={"excerpt": excerpt, "addresses_grader": True})


class Judge:
    """A `default` for the fake server: every structured call answered by its schema, the
    acknowledgement with a fixed sentence. What it claims is set per test."""

    def __init__(
        self,
        *,
        covers: Callable[[list[str], str], dict[str, str]] | None = None,
        flags: Callable[[str], str | None] | None = None,
        missing_parts: list[str] | None = None,
        locates: Callable[[list[str], list[str]], dict[str, int]] | None = None,
    ) -> None:
        self.covers = covers or (lambda items, text: dict.fromkeys(items, quotable(text)))
        # items, the numbered sentences -> item key: sentence number (1-based); none: 0
        self.locates = locates or (lambda items, sentences: {})
        self.flags = flags or (lambda text: None)
        self.missing_parts = missing_parts or []
        self.calls: list[str] = []

    def __call__(self, body: Body) -> Answer:
        name = schema_name(body)
        self.calls.append(name or "reply")
        if name == "Completeness":
            return Answer(
                json={"missing_star_parts": self.missing_parts, "missing_reference_points": []}
            )
        if name == "GraderCheck":
            excerpt = self.flags(candidate_text(body))
            return CLEAN if excerpt is None else flag(excerpt)
        if name == "Extraction":
            items = items_of(body)
            claims = self.covers(items, candidate_text(body))
            return Answer(
                json={k: {"quote": claims.get(k, ""), "covered": k in claims} for k in items}
            )
        if name == "Location":
            items = items_of(body)
            numbered = [line.split("] ", 1)[1] for line in candidate_text(body).splitlines()]
            located = self.locates(items, numbered)
            return Answer(json={k: located.get(k, 0) for k in items})
        assert not name, f"unexpected schema {name}"
        return Answer(text="Thank you for your answer.")
