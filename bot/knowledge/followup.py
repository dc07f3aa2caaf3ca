"""What to search for: the question, or, for a follow-up such as "and in Shenzhen?", the
question together with the one before it.

A rule, not the model: small models rewrite badly and slowly, and a follow-up is nearly
always short and starts or ends with a few telling words.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from bot.knowledge.text import terms

_EN_START = re.compile(
    r"^\s*(and|but|or|also|what about|how about|same|then|so|in|for|at|if)\b", re.IGNORECASE
)
_ZH_MARK = re.compile(r"^\s*(那|那么|还有|另外|如果|要是|同样)|呢\s*[？?]?\s*$")
_PRONOUN = re.compile(r"\b(it|that|this|there|those|them)\b", re.IGNORECASE)
SHORT_TERMS = 3  # a question with this many topic words or fewer leans on the one before


def is_follow_up(question: str) -> bool:
    topic = terms(question)
    if _EN_START.search(question) or _ZH_MARK.search(question):
        return len(topic) <= 6
    return len(topic) <= SHORT_TERMS and bool(_PRONOUN.search(question) or len(topic) <= 1)


def with_context(question: str, earlier_questions: Sequence[str], template: str) -> str:
    """The question to search and answer: joined to the previous question when it is a
    follow-up; `template` has {previous} and {question}."""
    if not earlier_questions or not is_follow_up(question):
        return question
    return template.format(previous=earlier_questions[-1].strip(), question=question.strip())
