"""A help-desk conversation far longer than the model's window, through the whole engine:
every turn answered, every prompt within the budget, the prefix stable between drop steps,
rejected input in no prompt. The scripted server is instant and counts tokens by its rule."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import text as sql
from sqlalchemy.ext.asyncio import create_async_engine

from bot.engine import EngineOptions
from bot.store.api import MessageStatus
from bot.texts import text
from tests.fakes.llm_server import Answer, FakeLLMServer
from tests.harness import Harness, harness

WINDOW = 8192
MAX_TOKENS = 512
TURNS = int(__import__("os").environ.get("CTX_TURNS", "500"))
REJECTED_TURNS = (100, 200)  # a 40,000-character message, then an empty one
LONG_MARKER = "PASTED-LOG-LINE "
FILLER = (
    "The laptop was fine yesterday but this morning the VPN client asks for a token "
    "again and the printer on floor three is offline. "
)


def reply_to(body: dict[str, Any]) -> Answer:
    asked = body["messages"][-1]["content"]
    # few words, many characters: the prompt grows fast while the stream stays short
    steps = "restart-the-client,-sign-in-again-and-check-the-token-on-the-phone. " * 3
    return Answer(text=f"About '{asked[:12]}': {steps}")


@pytest.fixture
async def window_server() -> AsyncIterator[FakeLLMServer]:
    async with FakeLLMServer(context_window=WINDOW) as server:
        server.default = reply_to
        yield server


@pytest.fixture
async def long_bot(window_server: FakeLLMServer, db_url: str) -> AsyncIterator[Harness]:
    # the backend never fails here: no retry sweep competing with the turns for the CPU
    options = EngineOptions(max_tokens=MAX_TOKENS, retry_interval_s=3600)
    async with harness(window_server.base_url, db_url, options=options) as built:
        yield built


def chats(server: FakeLLMServer) -> list[list[dict[str, str]]]:
    return [
        [{"role": m["role"], "content": m["content"]} for m in request["messages"]]
        for request in server.requests
    ]


async def test_a_500_turn_conversation_fits_an_8192_token_window(
    long_bot: Harness, window_server: FakeLLMServer, db_url: str
) -> None:
    for turn in range(TURNS):
        if turn == REJECTED_TURNS[0]:
            await long_bot.send(LONG_MARKER * 2500)  # 40,000 characters: refused, kept
        elif turn == REJECTED_TURNS[1]:
            await long_bot.send("   ")  # empty
        else:
            await long_bot.send(f"Question {turn}: {FILLER * (1 + turn % 3)}")

    conversation = await long_bot.store.active_conversation(long_bot.key)
    assert conversation is not None
    assert not await long_bot.store.pending_messages(conversation.id)
    answered = [t for t in long_bot.seen.texts() if t.startswith("About 'Question")]
    refused = [t for t in REJECTED_TURNS if t < TURNS]
    assert len(answered) == TURNS - len(refused)  # every question answered, once
    if len(refused) == 2:
        assert text("input_too_long", "en", limit=8000) in long_bot.seen.texts()
        assert text("input_empty", "en") in long_bot.seen.texts()

    prompts = chats(window_server)
    assert window_server.refused == 0 and len(prompts) == len(answered)
    for request in window_server.requests:
        assert window_server.prompt_tokens(request) + request["max_tokens"] <= WINDOW
    system = prompts[0][0]
    drop_steps = 0
    for previous, current in itertools.pairwise(prompts):
        assert current[0] == system  # the system prompt first, byte-identical, every turn
        if current[: len(previous)] == previous:
            continue  # only appended: vLLM's prefix cache serves the whole previous prompt
        drop_steps += 1
        # a drop step keeps a newer, contiguous part of the same history
        kept = current[1:-1]
        assert kept and kept[0]["role"] == "user"
        assert any(previous[i : i + 2] == kept[:2] for i in range(1, len(previous)))
    # dropping half of what fits at a time: a step every ten turns or so, not every turn
    assert TURNS // 100 <= drop_steps <= TURNS // 8

    for prompt in prompts:  # rejected input never reaches the model
        for message in prompt:
            assert LONG_MARKER not in message["content"]
            assert message["content"].strip()
    rows = await long_bot.store.recent_history(conversation.id, 10_000)
    assert all(LONG_MARKER not in m.text for m in rows)
    statuses = [m.status for m in await long_bot.store.pending_messages(conversation.id)]
    assert statuses == []
    rejected = await rejected_texts(db_url, conversation.id)
    assert len(rejected) == len(refused)  # stored, whole, as rejected: nothing is lost
    assert all(r == "" or r == LONG_MARKER * 2500 for r in rejected)


async def rejected_texts(db_url: str, conversation_id: int) -> list[str]:
    rows = await user_rows(db_url, conversation_id)
    return [m[1] for m in rows if m[2] == MessageStatus.REJECTED]


async def user_rows(db_url: str, conversation_id: int) -> list[tuple[str, str, str]]:
    """(kind, text, status) of the user's messages, straight from the table."""
    engine = create_async_engine(db_url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                sql(
                    "SELECT kind, text, status FROM messages WHERE conversation_id = :id "
                    "AND role = 'user' ORDER BY id"
                ),
                {"id": conversation_id},
            )
            return [(r[0], r[1], r[2]) for r in rows]
    finally:
        await engine.dispose()
