"""The context budget on its own: what is kept, what is dropped, and in which steps."""

from __future__ import annotations

import pytest

from bot.llm.budget import (
    TRUNCATION_NOTICE,
    ContextBudget,
    ContextOverflow,
    LLMContextExceeded,
    estimate,
)
from bot.llm.types import ChatMessage

SYSTEM: ChatMessage = {"role": "system", "content": "You are the help desk. " * 20}


def turns(count: int, size: int = 400) -> list[ChatMessage]:
    history: list[ChatMessage] = []
    for index in range(count):
        history.append({"role": "user", "content": f"question {index} " + "q" * size})
        history.append({"role": "assistant", "content": f"answer {index} " + "a" * size})
    return history


def prompt(history: list[ChatMessage], newest: str = "the newest question") -> list[ChatMessage]:
    return [SYSTEM, *history, {"role": "user", "content": newest}]


def test_a_prompt_that_fits_passes_unchanged() -> None:
    messages = prompt(turns(3))
    fitted = ContextBudget(8192).fit(messages, 512, "s")
    assert fitted.messages == messages and fitted.dropped == 0 and not fitted.truncated


def test_over_budget_the_oldest_half_goes_and_system_and_newest_stay() -> None:
    budget = ContextBudget(2048)
    messages = prompt(turns(40))
    fitted = budget.fit(messages, 512, "s")
    assert fitted.messages[0] == SYSTEM and fitted.messages[-1] == messages[-1]
    assert fitted.tokens <= 2048 - 512
    assert sum(estimate(m) for m in fitted.messages) < fitted.tokens  # the fixed part counted
    kept = fitted.messages[1:-1]
    assert kept == messages[-1 - len(kept) : -1]  # a contiguous, newest part of the history
    assert kept[0]["role"] == "user"  # history opens with a user turn after the system
    assert 0 < fitted.dropped < 80


def test_the_prefix_stays_byte_stable_between_drop_steps() -> None:
    budget = ContextBudget(4096)
    history: list[ChatMessage] = []
    previous: list[ChatMessage] | None = None
    steps = 0
    for index in range(60):
        question = f"question {index} " + "q" * 400
        fitted = budget.fit(prompt(history, question), 512, "s")
        assert fitted.tokens <= 4096 - 512
        if previous is not None and fitted.messages[: len(previous)] != previous:
            steps += 1
            assert fitted.messages[0] == SYSTEM
        previous = fitted.messages
        history += [
            {"role": "user", "content": question},
            {"role": "assistant", "content": "a" * 400},
        ]
    # about 7 turns fit; dropping half of them at a time means a step every 3-4 turns
    assert 1 <= steps <= 60 // 3


def test_a_session_resumes_from_its_anchor_even_with_more_history_given() -> None:
    budget = ContextBudget(4096)
    long = turns(30)
    first = budget.fit(prompt(long), 512, "s")
    again = budget.fit(prompt(long), 512, "s")
    assert again.messages == first.messages
    other = budget.fit(prompt(long), 512, "another session")
    assert other.messages == first.messages  # the same rule from scratch: deterministic


def test_the_newest_message_alone_too_long_is_cut_with_a_notice() -> None:
    budget = ContextBudget(1024)
    fitted = budget.fit(prompt(turns(2), "x" * 20_000), 256, "s")
    newest = fitted.messages[-1]["content"]
    assert fitted.truncated and newest.endswith(TRUNCATION_NOTICE)
    assert newest.startswith("x" * 100) and fitted.tokens <= 1024 - 256
    assert fitted.messages[0] == SYSTEM and len(fitted.messages) == 2


def test_a_system_prompt_over_the_window_is_a_user_facing_error() -> None:
    huge: ChatMessage = {"role": "system", "content": "rules " * 2000}
    with pytest.raises(LLMContextExceeded):
        ContextBudget(1024).fit([huge, {"role": "user", "content": "hi"}], 256, None)


def test_an_unknown_window_lets_prompts_through_until_a_refusal_says() -> None:
    budget = ContextBudget(None)
    messages = prompt(turns(40))
    fitted = budget.fit(messages, 512, "s")
    assert fitted.messages == messages
    refusal = ContextOverflow(
        "This model's maximum context length is 2048 tokens. However, your request has "
        "9000 input tokens. Please reduce the length of the input messages."
    )
    budget.refused(fitted, refusal)
    assert budget.window == 2048
    refit = budget.fit(messages, 512, "s")
    assert refit.dropped > 0 and refit.tokens <= 2048 - 512


def test_both_vllm_refusals_are_read() -> None:
    alone = ContextOverflow(
        "Error code: 400 - {'error': {'message': \"This model's maximum context length is "
        "8192 tokens. However, your request has 9001 input tokens. Please reduce the length "
        "of the input messages.\", 'type': 'BadRequestError'}}"
    )
    assert (alone.window, alone.prompt_tokens) == (8192, 9001)
    with_reply = ContextOverflow(
        "'max_tokens' or 'max_completion_tokens' is too large: 512. This model's maximum "
        "context length is 8192 tokens and your request has 7900 input tokens "
        "(512 > 8192 - 7900). None"
    )
    assert (with_reply.window, with_reply.prompt_tokens) == (8192, 7900)


def test_exact_usage_replaces_the_estimate_for_the_known_prefix() -> None:
    budget = ContextBudget(8192)
    messages = prompt(turns(2))
    fitted = budget.fit(messages, 512, "s")
    budget.observed(fitted, 300)
    extended = [
        *messages,
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": "and?"},
    ]
    counted = budget.fit(extended, 512, "s").tokens
    assert counted == 300 + estimate(extended[-2]) + estimate(extended[-1])
