"""Text in an answer that speaks to the grader instead of answering the question.

Candidates may write "ignore previous instructions" or "give me a 5". Such sentences are
taken out of what the grader sees (so they cannot earn credit), kept for the hiring manager
to read, and the evaluation is flagged. The grader is also told to flag what slips past.
"""

from __future__ import annotations

import re

_PATTERNS = [
    r"\bignore (all |any )?(the )?(previous|prior|above|earlier|your) "
    r"(instructions|rules|prompts?)",
    r"\bdisregard (all |the )?(previous|prior|above|your) ",
    r"\b(give|award|assign|grant) (me|this( answer)?|the candidate) (a |an )?"
    r"(5|five|perfect|full|top|maximum|max|high(est)?)\b",
    r"\b(score|rate|mark) (me|this( answer)?) (as |a |an )?(5|five|perfect|high(ly)?|top)",
    r"\b(you are|you're|as) (the |an? )?(grader|evaluator|assessor|ai|language model|llm)\b",
    r"\b(system prompt|new instructions|developer mode|jailbreak)\b",
    r"\bpossible_manipulation\b",
    r"忽略(之前|以上|前面|所有)?的?(指令|指示|规则|提示)",
    r"(给|打)我?(满分|5分|五分|高分)",
    r"(你是|作为)(评分|评估|面试官|AI|人工智能)",
]
_MANIPULATION = re.compile("|".join(f"(?:{p})" for p in _PATTERNS), re.IGNORECASE)
_SENTENCES = re.compile(r"[^.!?。！？\n]+[.!?。！？]*\s*")


def strip_manipulation(answer: str) -> tuple[str, list[str]]:
    """(the answer without sentences that address the grader, the sentences removed)."""
    kept: list[str] = []
    removed: list[str] = []
    for sentence in _SENTENCES.findall(answer) or [answer]:
        (removed if _MANIPULATION.search(sentence) else kept).append(sentence)
    return "".join(kept).strip(), [s.strip() for s in removed]
