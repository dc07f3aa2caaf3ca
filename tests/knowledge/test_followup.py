"""Which questions are follow-ups, and what is searched for them."""

from __future__ import annotations

import pytest

from bot.knowledge.followup import is_follow_up, with_context
from bot.knowledge.text import specific_terms, terms

TEMPLATE = "{previous} (follow-up: {question})"


@pytest.mark.parametrize(
    "question",
    [
        "and in Shenzhen?",
        "What about Lisbon?",
        "那深圳呢？",
        "深圳呢",
        "how about it?",
        "Shenzhen?",
    ],
)
def test_short_questions_leaning_on_the_one_before_are_follow_ups(question: str) -> None:
    assert is_follow_up(question)


@pytest.mark.parametrize(
    "question",
    [
        "How many leave days do Shenzhen employees get?",
        "如何报告钓鱼邮件？",
        "Where do I forward phishing email?",
    ],
)
def test_complete_questions_stand_alone(question: str) -> None:
    assert not is_follow_up(question)


def test_a_follow_up_is_searched_with_the_previous_question() -> None:
    earlier = ["How many days of annual leave do I get in Lisbon?"]
    assert with_context("and in Shenzhen?", earlier, TEMPLATE) == (
        "How many days of annual leave do I get in Lisbon? (follow-up: and in Shenzhen?)"
    )
    assert with_context("and in Shenzhen?", [], TEMPLATE) == "and in Shenzhen?"
    assert with_context("How do I set up the VPN?", earlier, TEMPLATE) == "How do I set up the VPN?"


def test_chinese_becomes_bigrams_and_codes_are_the_specific_terms() -> None:
    assert terms("深圳年假") == ["深圳", "圳年", "年假"]
    assert specific_terms("VPN 出现 NG-417 错误怎么办？") == ["vpn", "ng", "417"]
    assert specific_terms("How many leave days in Lisbon?") == []
