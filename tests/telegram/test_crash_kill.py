"""SIGKILL at chosen points of a Telegram interview, through the real python-telegram-bot
client in a real `chatbot run` process and the fake Bot API: after a restart nothing the
candidate sent is lost, nothing is shown twice and the grading is not repeated."""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.store.sql import SqlStore
from bot.texts import text
from tests.fakes.llm_server import Answer, FakeLLMServer
from tests.fakes.telegram import FakeTelegram
from tests.flows.test_interview import ANSWERS, COMPLETE, QUESTIONS, evaluation_answers
from tests.interview.judge import Judge
from tests.telegram.bot_process import BotProcess

CHAT = USER = 7001
ACK = "Thank you for that answer."


@pytest.fixture
async def bot(
    tg: FakeTelegram, llm_server: FakeLLMServer, db_url: str, tmp_path: Path
) -> AsyncIterator[BotProcess]:
    store = SqlStore(db_url)
    try:
        await store.upgrade()
        await store.create_invitation("inv-kill", "python-backend", "Ada", "U-hiring")
    finally:
        await store.close()
    process = BotProcess(tg, llm_server, db_url, tmp_path)
    yield process
    await process.stop()


def bot_texts(tg: FakeTelegram) -> list[str]:
    return tg.bot_texts(CHAT)


async def consent_and_first_question(tg: FakeTelegram) -> None:
    await tg.send_text(CHAT, USER, "/start inv-kill", language_code="en")
    await tg.wait_for(lambda: any(m.buttons for m in tg.transcript(CHAT)), timeout=30)
    consent = next(m for m in tg.transcript(CHAT) if m.buttons)
    accept = next(d for label, d in consent.buttons if label == text("interview_consent_accept"))
    await tg.tap(CHAT, USER, consent.message_id, accept)
    await tg.wait_for(lambda: any("Question 1 of 6:" in t for t in bot_texts(tg)), timeout=30)


async def stored_evaluations(db_url: str) -> int:
    store = SqlStore(db_url)
    try:
        conversations = await store.list_conversations(flow="interview")
        return sum([len(await store.evaluations_for(c.id)) for c in conversations])
    finally:
        await store.close()


async def test_kill_between_receiving_and_storing_an_update_loses_nothing(
    tg: FakeTelegram, bot: BotProcess
) -> None:
    await bot.start(crash_at="telegram.received")
    await tg.send_text(CHAT, USER, "/start inv-kill", language_code="en")
    assert await bot.killed() == -signal.SIGKILL
    assert tg.pending_updates()  # taken by getUpdates, never confirmed

    await bot.start()
    await tg.wait_for(lambda: any(m.buttons for m in tg.transcript(CHAT)), timeout=30)
    await tg.wait_for(lambda: not tg.pending_updates(), timeout=30)  # confirmed once stored
    consents = [m for m in tg.transcript(CHAT) if m.buttons]
    assert len(consents) == 1


async def test_kill_after_the_graded_turn_is_stored_shows_the_result_once_and_grades_once(
    tg: FakeTelegram, llm_server: FakeLLMServer, bot: BotProcess, db_url: str
) -> None:
    # Stored turns: /start, consent, then one per answer: the 8th is the graded last answer.
    await bot.start(crash_at="turn.committed#8")
    await consent_and_first_question(tg)
    for n, answer in enumerate(ANSWERS):
        llm_server.enqueue(COMPLETE, Answer(text=ACK))
        if n == len(ANSWERS) - 1:
            llm_server.enqueue(*evaluation_answers())
            await tg.send_text(CHAT, USER, answer)
            break
        await tg.send_text(CHAT, USER, answer)
        await tg.wait_for(lambda n=n: any(f"Question {n + 2} of 6:" in t for t in bot_texts(tg)))
    assert await bot.killed() == -signal.SIGKILL
    assert text("interview_complete") not in bot_texts(tg)  # stored, not yet delivered
    assert await stored_evaluations(db_url) == 1
    graded = sum("response_format" in r for r in llm_server.requests)

    await bot.start()
    await tg.wait_for(lambda: text("interview_complete") in bot_texts(tg), timeout=30)
    await tg.wait_for(lambda: not tg.pending_updates(), timeout=30)
    await bot.stop()  # everything it had to do is done: nothing more can arrive
    texts = bot_texts(tg)
    assert len(texts) == len(set(texts)), texts  # nothing shown twice
    assert texts.count(text("interview_complete")) == 1
    assert sum("response_format" in r for r in llm_server.requests) == graded  # not re-graded
    assert await stored_evaluations(db_url) == 1
    user_texts = [m.text for m in tg.transcript(CHAT) if not m.from_bot]
    assert user_texts == ["/start inv-kill", *ANSWERS]


async def test_kill_after_a_reply_was_previewed_but_not_stored_shows_it_once(
    tg: FakeTelegram, llm_server: FakeLLMServer, bot: BotProcess
) -> None:
    # The 3rd turn is the first answer: killed once its reply was previewed (typing and
    # drafts, which vanish), before it was stored: the turn runs again after the restart.
    await bot.start(crash_at="turn.previewed#3")
    await consent_and_first_question(tg)
    llm_server.enqueue(COMPLETE, Answer(text=ACK, token_delay=0.05))
    await tg.send_text(CHAT, USER, ANSWERS[0])
    assert await bot.killed() == -signal.SIGKILL
    assert not any(ACK in t for t in bot_texts(tg))  # previews are not messages

    llm_server.enqueue(COMPLETE, Answer(text=ACK))  # the turn runs again after the restart
    await bot.start()
    await tg.wait_for(lambda: any("Question 2 of 6:" in t for t in bot_texts(tg)), timeout=30)
    await bot.stop()
    texts = bot_texts(tg)
    assert sum(ACK in t for t in texts) == 1 and sum("Question 2 of 6:" in t for t in texts) == 1
    assert len(texts) == len(set(texts)), texts


async def test_kill_while_grading_grades_each_question_once(
    tg: FakeTelegram, llm_server: FakeLLMServer, bot: BotProcess, db_url: str
) -> None:
    # Killed after the third question's grading was saved, before the turn was stored: the
    # restarted bot runs the last turn again and grades only the three questions left.
    llm_server.default = Judge()
    await bot.start(crash_at="grading.question#3")
    await consent_and_first_question(tg)
    for n, answer in enumerate(ANSWERS):
        await tg.send_text(CHAT, USER, answer)
        if n < len(ANSWERS) - 1:
            await tg.wait_for(
                lambda n=n: any(f"Question {n + 2} of 6:" in t for t in bot_texts(tg)), timeout=30
            )
    assert await bot.killed() == -signal.SIGKILL
    assert await stored_evaluations(db_url) == 0

    await bot.start()
    await tg.wait_for(lambda: text("interview_complete") in bot_texts(tg), timeout=30)
    await bot.stop()
    graded = [
        question
        for request in llm_server.requests
        for question in QUESTIONS
        if f"evidence extraction for question {question}." in str(request["messages"][-1])
    ]
    assert sorted(graded) == sorted(QUESTIONS)  # each once, across both processes
    assert await stored_evaluations(db_url) == 1
    texts = bot_texts(tg)
    assert texts.count(text("interview_complete")) == 1
    assert len(texts) == len(set(texts)), texts
