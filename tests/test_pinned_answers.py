"""Pinned answers: the file is validated on load, and "closely" means what the module
says (the same words in order, fillers aside, one typo in a long English word)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.errors import PromptError
from bot.pinned_answers import PinnedAnswers
from tests.harness import PROMPTS


@pytest.fixture(scope="module")
def pinned() -> PinnedAnswers:
    return PinnedAnswers.load(PROMPTS)


@pytest.mark.parametrize(
    "question",
    [
        "How do I report a phishing email?",
        "how do i report a phishing email",
        "Hi, how do I report a phishing email please?",
        "How do I report a phising email?",  # one letter missing in a long word
        "如何举报钓鱼邮件",
        "请问我如何举报钓鱼邮件呢？",
    ],
)
def test_close_questions_match(pinned: PinnedAnswers, question: str) -> None:
    found = pinned.match(question)
    assert found is not None and found.answer.id == "report-phishing"
    assert found.version.startswith("pinned-")


@pytest.mark.parametrize(
    "question",
    [
        "How do I report a phishing website?",
        "How do I not report a phishing email?",
        "Why do I report a phishing email?",
        "How do I report a phishing email to my manager?",
        "如何举报垃圾邮件",
        "钓鱼邮件",
        "phishing",
        "",
    ],
)
def test_loose_questions_do_not_match(pinned: PinnedAnswers, question: str) -> None:
    assert pinned.match(question) is None


def test_unknown_keys_are_refused(tmp_path: Path) -> None:
    (tmp_path / "support").mkdir()
    (tmp_path / "support" / "answers.yaml").write_text(
        "answers:\n  - id: x\n    patterns: {en: [hi there]}\n"
        "    answer: {en: a, zh: b}\n    source: s\n    sauce: oops\n"
    )
    with pytest.raises(PromptError, match="sauce"):
        PinnedAnswers.load(tmp_path)


def test_an_answer_id_twice_is_refused(tmp_path: Path) -> None:
    entry = "  - id: x\n    patterns: {en: [hi there]}\n    answer: {en: a, zh: b}\n    source: s\n"
    (tmp_path / "support").mkdir()
    (tmp_path / "support" / "answers.yaml").write_text("answers:\n" + entry + entry)
    with pytest.raises(PromptError, match="twice"):
        PinnedAnswers.load(tmp_path)


def test_no_file_means_no_pinned_answers(tmp_path: Path) -> None:
    assert PinnedAnswers.load(tmp_path).match("How do I report a phishing email?") is None
