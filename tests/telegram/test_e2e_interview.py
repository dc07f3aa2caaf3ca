"""A candidate's whole interview over the fake Bot API, through the real python-telegram-bot
client, the real engine, store and LLM client, with 429s injected while replies stream."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from adapters.telegram import TelegramAdapter
from bot.store.api import ConversationStatus
from bot.texts import text
from tests.fakes.llm_server import Answer, FakeLLMServer
from tests.fakes.telegram import FakeTelegram
from tests.flows.test_interview import ANSWERS, COMPLETE, evaluation_answers
from tests.harness import Harness, eventually, harness
from tests.telegram.conftest import FAST_RETRIES, FAST_TIMING, settings_for

CHAT = USER = 4242


@pytest.fixture
async def live(tg: FakeTelegram, llm_server: FakeLLMServer, db_url: str) -> AsyncIterator[Harness]:
    async with harness(llm_server.base_url, db_url) as bot:
        adapter = TelegramAdapter(
            settings_for(tg),
            bot.engine,
            poll_timeout_s=5,
            timing=FAST_TIMING,
            policy=FAST_RETRIES,
        )
        await adapter.start()
        try:
            yield bot
        finally:
            await adapter.stop()


async def test_deep_link_interview_to_stored_evaluation_despite_429s(
    tg: FakeTelegram, llm_server: FakeLLMServer, live: Harness
) -> None:
    await live.store.create_invitation("inv-abc123", "python-backend", "Ada", "U-hiring")
    await tg.send_text(CHAT, USER, "/start inv-abc123", language_code="en")
    await tg.wait_for(lambda: any(m.buttons for m in tg.transcript(CHAT)))
    consent = next(m for m in tg.transcript(CHAT) if m.buttons)
    assert "AI assistant" in consent.text
    accept = next(
        data for label, data in consent.buttons if label == text("interview_consent_accept")
    )
    await tg.tap(CHAT, USER, consent.message_id, accept)
    await tg.wait_for(lambda: any("Question 1 of 6:" in t for t in tg.bot_texts(CHAT)))

    for n, answer in enumerate(ANSWERS):
        tg.inject("sendMessageDraft", status=429, retry_after=1, times=1)
        tg.inject("sendMessage", status=429, retry_after=1, times=1)
        llm_server.enqueue(COMPLETE, Answer(text="Thank you for that answer.", token_delay=0.02))
        if n == len(ANSWERS) - 1:
            llm_server.enqueue(*evaluation_answers())
        expected = text("interview_complete") if n == 5 else f"Question {n + 2} of 6:"
        await tg.send_text(CHAT, USER, answer)
        await tg.wait_for(lambda e=expected: any(e in t for t in tg.bot_texts(CHAT)), timeout=20)

    await live.engine.idle()  # the turn is stored once it has been shown
    [conversation] = await live.store.list_conversations(flow="interview")
    [evaluation] = await live.store.evaluations_for(conversation.id)
    assert evaluation.status == "ok" and evaluation.data["recommendation"] == "advance"
    assert conversation.status is ConversationStatus.FINISHED

    transcript = tg.transcript(CHAT)
    bot_texts = [m.text for m in transcript if m.from_bot]
    for n in range(1, 7):
        assert sum(f"Question {n} of 6:" in t for t in bot_texts) == 1, n
    user_texts = [m.text for m in transcript if not m.from_bot]
    assert user_texts == ["/start inv-abc123", *ANSWERS]
    assert len(bot_texts) == len(set(bot_texts))  # nothing sent twice
    assert sum(c.status == 429 for c in tg.calls) >= 6  # the faults really happened
    # every answer reached the model exactly once
    asked = [
        r["messages"][-1]["content"] for r in llm_server.requests if "response_format" not in r
    ]
    assert [a for a in ANSWERS if any(a in q for q in asked)] == ANSWERS


async def test_a_used_invitation_is_refused(tg: FakeTelegram, live: Harness) -> None:
    await live.store.create_invitation("inv-once", "python-backend", "Ada", "U-hiring")
    await tg.send_text(CHAT, USER, "/start inv-once")
    await tg.wait_for(lambda: any(m.buttons for m in tg.transcript(CHAT)))
    await tg.send_text(CHAT + 1, USER + 1, "/start inv-once")
    await tg.wait_for(lambda: text("invitation_invalid") in tg.bot_texts(CHAT + 1))


async def test_a_blocked_candidate_marks_the_conversation(tg: FakeTelegram, live: Harness) -> None:
    await tg.send_text(CHAT, USER, "/start")
    await tg.wait_for(lambda: any(m.buttons for m in tg.transcript(CHAT)))
    tg.block(CHAT)
    await tg.send_text(CHAT, USER, "/help")
    await tg.wait_for(lambda: any(c.status == 403 for c in tg.calls))

    async def blocked() -> bool:
        [conversation] = await live.store.list_conversations(flow="interview")
        return conversation.status is ConversationStatus.BLOCKED

    await eventually(blocked)
    sends_after = len(tg.calls_to("sendMessage", CHAT))
    await tg.send_text(CHAT, USER, "hello?")
    await live.engine.idle()
    assert len(tg.calls_to("sendMessage", CHAT)) == sends_after  # no more attempts
