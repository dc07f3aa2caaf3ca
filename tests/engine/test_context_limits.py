"""The edges of the context budget and the input limits through the engine: a refusal for
length shrinks and retries once; a prompt that cannot fit gets a clear answer, once; a flood
gets one notice and never reaches the model; a help-desk DM idle for hours starts afresh."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from sqlalchemy import text as sql
from sqlalchemy.ext.asyncio import create_async_engine

from bot.domain import ConversationKey, InputKind
from bot.engine import EngineOptions
from bot.store.api import ConversationStatus
from bot.texts import text
from tests.engine.test_context_length import user_rows
from tests.fakes.llm_server import Answer, FakeLLMServer
from tests.harness import harness

ANSWER = "Restart the VPN client."


@pytest.fixture
async def dense_server() -> AsyncIterator[FakeLLMServer]:
    """A tokenizer three times worse than the bot's estimate on ASCII: one token a character."""
    async with FakeLLMServer(context_window=2048, chars_per_token=1) as server:
        server.default = Answer(text=ANSWER)
        yield server


async def test_a_refusal_for_length_shrinks_the_prompt_and_retries_once(
    dense_server: FakeLLMServer, db_url: str
) -> None:
    options = EngineOptions(max_tokens=256)
    async with harness(dense_server.base_url, db_url, options=options) as bot:
        # By the bot's estimate (a token per three characters) this fits; by the server's
        # count it does not: refused, cut to fit, sent again.
        await bot.send("my laptop will not connect, here is the log: " + "timeout " * 560)
        assert dense_server.refused == 1
        for turn in range(5):
            await bot.send(f"question {turn}: " + "my laptop will not connect " * 8)
        assert dense_server.refused == 1  # once; afterwards the learned count is used
        assert bot.seen.texts().count(ANSWER) == 6  # every question answered
        assert len(dense_server.requests) == 7
        accepted = [r for r in dense_server.requests if dense_server.prompt_tokens(r) < 2048]
        for request in accepted:
            assert dense_server.prompt_tokens(request) + request["max_tokens"] <= 2048
        conversation = await bot.store.active_conversation(bot.key)
        assert conversation is not None
        assert not await bot.store.pending_messages(conversation.id)


async def test_a_prompt_that_cannot_fit_is_answered_once_with_a_clear_message(
    dense_server: FakeLLMServer, db_url: str
) -> None:
    # The reply alone would take the whole window: nothing the bot drops can make it fit.
    options = EngineOptions(max_tokens=2040)
    async with harness(dense_server.base_url, db_url, options=options) as bot:
        await bot.send("why is the printer offline?")
        assert bot.seen.texts() == [text("llm_context_exceeded", "en")]
        assert dense_server.refused <= 2 and len(dense_server.requests) <= 2
        conversation = await bot.store.active_conversation(bot.key)
        assert conversation is not None
        assert not await bot.store.pending_messages(conversation.id)  # answered, no loop
        await bot.engine.resume()
        await bot.engine.idle()
        assert len(bot.seen.texts()) == 1


async def test_a_flood_gets_one_notice_and_never_reaches_the_model(
    llm_server: FakeLLMServer, db_url: str
) -> None:
    llm_server.default = Answer(text=ANSWER)
    # one a minute, a burst of one: the second message in the same second is over the limit
    options = EngineOptions(rate_limit_per_minute=1)
    async with harness(llm_server.base_url, db_url, options=options) as bot:
        for turn in range(5):
            await bot.send(f"message {turn}")
        await bot.send("help", kind=InputKind.COMMAND)
        notice = text("input_rate_limited", "en")
        assert bot.seen.texts()[:2] == [ANSWER, notice]
        assert bot.seen.texts().count(notice) == 1
        assert bot.seen.texts().count(ANSWER) == 1
        assert len(llm_server.requests) == 1  # only the first message reached the model
        sent = " ".join(m["content"] for r in llm_server.requests for m in r["messages"])
        assert "message 1" not in sent
        conversation = await bot.store.active_conversation(bot.key)
        assert conversation is not None
        rows = await user_rows(db_url, conversation.id)
        assert [(kind, body, status) for kind, body, status in rows[:5]] == [
            ("text", "message 0", "answered"),
            ("rate_limited", "message 1", "rejected"),
            *[("rate_quiet", f"message {n}", "rejected") for n in (2, 3, 4)],
        ]
        assert rows[5][0] == "command" and rows[5][2] == "answered"  # /help still works
        await bot.send("after the flood")  # still limited: quiet, nothing new shown
        assert bot.seen.texts().count(notice) == 1 and len(llm_server.requests) == 1


async def age_conversation(db_url: str, conversation_id: int, hours: float) -> None:
    engine = create_async_engine(db_url)
    try:
        async with engine.begin() as connection:
            row = await connection.execute(
                sql("SELECT updated_at FROM conversations WHERE id = :id"), {"id": conversation_id}
            )
            (updated,) = row.one()
            older = datetime.fromisoformat(str(updated)) - timedelta(hours=hours)
            await connection.execute(
                sql("UPDATE conversations SET updated_at = :at WHERE id = :id"),
                {"at": older, "id": conversation_id},
            )
    finally:
        await engine.dispose()


async def test_a_support_dm_idle_for_eight_hours_starts_a_new_session(
    llm_server: FakeLLMServer, db_url: str
) -> None:
    llm_server.default = Answer(text=ANSWER)
    async with harness(llm_server.base_url, db_url) as bot:
        await bot.send("my badge does not open the door")
        first = await bot.store.active_conversation(bot.key)
        assert first is not None
        await age_conversation(db_url, first.id, hours=7)
        await bot.send("and the lift?")  # seven hours: the same session
        same = await bot.store.active_conversation(bot.key)
        assert same is not None and same.id == first.id
        assert "my badge" in str(llm_server.requests[-1]["messages"])
        await age_conversation(db_url, first.id, hours=8)
        await bot.send("how do I book a meeting room?")
        fresh = await bot.store.active_conversation(bot.key)
        assert fresh is not None and fresh.id != first.id
        closed = await bot.store.get_conversation(first.id)
        assert closed.status is ConversationStatus.SUPERSEDED
        last_prompt = str(llm_server.requests[-1]["messages"])
        assert "my badge" not in last_prompt and "lift" not in last_prompt
        assert bot.seen.texts() == [ANSWER, ANSWER, ANSWER]  # no announcement, just the answer


async def test_a_channel_thread_is_never_rolled_over(
    llm_server: FakeLLMServer, db_url: str
) -> None:
    llm_server.default = Answer(text=ANSWER)
    async with harness(llm_server.base_url, db_url) as bot:
        thread = ConversationKey.thread(bot.key.platform, "C1", "1700000000.1")
        incoming = replace(bot.incoming("first"), key=thread)
        await (await bot.engine.submit(incoming)).wait()
        first = await bot.store.active_conversation(thread)
        assert first is not None
        await age_conversation(db_url, first.id, hours=48)
        again = replace(bot.incoming("second"), key=thread)
        await (await bot.engine.submit(again)).wait()
        after = await bot.store.active_conversation(thread)
        assert after is not None and after.id == first.id
