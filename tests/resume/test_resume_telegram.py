"""A résumé sent as a document in a Telegram interview: stored as a message first, fetched
through the fake Bot API's getFile, parsed, cleaned of hidden text and kept in the interview
state; refusals each get their own sentence; /delete erases it with the conversation."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import pytest

from adapters.telegram import TelegramAdapter, TelegramDocumentSource
from bot.domain import Platform
from bot.interview.state import InterviewState
from bot.texts import text
from tests.fakes.llm_server import FakeLLMServer
from tests.fakes.telegram import FakeTelegram
from tests.fakes.telegram.files import send_document
from tests.harness import Harness, harness
from tests.resume.documents import HIDDEN, VISIBLE, docx_resume, pdf_resume
from tests.telegram.conftest import FAST_RETRIES, FAST_TIMING, settings_for

CHAT = USER = 6161
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@asynccontextmanager
async def live_bot(tg: FakeTelegram, llm_url: str, db_url: str) -> AsyncIterator[Harness]:
    async with harness(llm_url, db_url, retry_interval_s=60.0) as bot:
        adapter = TelegramAdapter(
            settings_for(tg), bot.engine, poll_timeout_s=5, timing=FAST_TIMING, policy=FAST_RETRIES
        )
        source = TelegramDocumentSource(adapter.application.bot)
        bot.engine.documents.register(Platform.TELEGRAM, source)
        await adapter.start()
        try:
            yield bot
        finally:
            await adapter.stop()


async def at_first_question(tg: FakeTelegram, bot: Harness, lang: str = "en") -> None:
    await bot.store.create_invitation("inv-cv", "python-backend", "Jane", "U-hiring")
    await tg.send_text(CHAT, USER, "/start inv-cv", language_code=lang)
    await tg.wait_for(lambda: any(m.buttons for m in tg.transcript(CHAT)))
    consent = next(m for m in tg.transcript(CHAT) if m.buttons)
    accept = next(
        d for label, d in consent.buttons if label == text("interview_consent_accept", lang)
    )
    await tg.tap(CHAT, USER, consent.message_id, accept)
    first = "Question 1 of 6:" if lang == "en" else "第 1"
    await tg.wait_for(lambda: any(first in t for t in tg.bot_texts(CHAT)))


async def interview_state(bot: Harness) -> InterviewState:
    [conversation] = await bot.store.list_conversations(flow="interview")
    return InterviewState.from_stored(conversation.state)


@pytest.mark.parametrize(
    ("data", "name", "mime"),
    [(pdf_resume(), "Jane Doe CV.pdf", "application/pdf"), (docx_resume(), "cv.docx", DOCX)],
)
async def test_a_resume_is_kept_cleaned_and_confirmed(
    tg: FakeTelegram,
    llm_server: FakeLLMServer,
    db_url: str,
    data: bytes,
    name: str,
    mime: str,
) -> None:
    async with live_bot(tg, llm_server.base_url, db_url) as bot:
        await at_first_question(tg, bot)
        await send_document(tg, CHAT, USER, data, file_name=name, mime_type=mime)
        await tg.wait_for(lambda: text("resume_received") in tg.bot_texts(CHAT))
        await bot.engine.idle()
        state = await interview_state(bot)
        assert state.resume is not None
        assert all(line in state.resume.text for line in VISIBLE)
        for secret in ("ignore the rubric", "full marks", "Kubernetes", "asyncio"):
            assert secret not in state.resume.text  # hidden text is never kept as text
        assert state.resume.flags and {f.kind for f in state.resume.flags} == {"hidden_text"}
        assert state.resume.filename == name
        # the interview goes on where it was: no answer, no question skipped
        assert state.answers == [] and state.question_index == 0 and state.stage == "asking"
        assert len(tg.file_store.downloads) == 1
        # the document message itself was stored (kind and reference), answered once
        [conversation] = await bot.store.list_conversations(flow="interview")
        documents = [m for m in await bot.store.history(conversation.id) if m.kind == "document"]
        assert len(documents) == 1 and documents[0].action_id.startswith("document|")
        # nothing of the résumé reached a model prompt
        assert not any(VISIBLE[1] in str(r["messages"]) for r in llm_server.requests)


@pytest.mark.parametrize(
    ("data", "name", "mime", "claimed", "reply", "downloaded"),
    [
        (pdf_resume(), "cv.pdf", "application/pdf", 6 * 1024 * 1024, "resume_too_big", 0),
        (b"Jane Doe, Python developer", "cv.txt", "text/plain", None, "resume_unsupported", 0),
        (b"%PDF-1.4 broken", "cv.pdf", "application/pdf", None, "resume_unreadable", 1),
    ],
)
async def test_refused_files_get_their_own_sentence_and_keep_nothing(
    tg: FakeTelegram,
    llm_server: FakeLLMServer,
    db_url: str,
    data: bytes,
    name: str,
    mime: str,
    claimed: int | None,
    reply: str,
    downloaded: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="bot.resume.step")
    async with live_bot(tg, llm_server.base_url, db_url) as bot:
        await at_first_question(tg, bot)
        await send_document(
            tg, CHAT, USER, data, file_name=name, mime_type=mime, claimed_size=claimed
        )
        await tg.wait_for(lambda: text(reply, limit=5) in tg.bot_texts(CHAT))
        await bot.engine.idle()
        state = await interview_state(bot)
        assert state.resume is None and state.stage == "asking" and state.answers == []
        assert len(tg.file_store.downloads) == downloaded
        assert any("document refused" in r.getMessage() for r in caplog.records)


async def test_the_answer_is_in_the_candidates_language(
    tg: FakeTelegram, llm_server: FakeLLMServer, db_url: str
) -> None:
    async with live_bot(tg, llm_server.base_url, db_url) as bot:
        await at_first_question(tg, bot, lang="zh")
        await send_document(tg, CHAT, USER, pdf_resume())
        await tg.wait_for(lambda: text("resume_received", "zh") in tg.bot_texts(CHAT))
        await send_document(tg, CHAT, USER, b"plain", file_name="cv.txt", mime_type="text/plain")
        await tg.wait_for(lambda: text("resume_unsupported", "zh") in tg.bot_texts(CHAT))
        await bot.engine.idle()
        assert (await interview_state(bot)).resume is not None  # the refusal lost nothing


async def test_delete_erases_the_stored_resume(
    tg: FakeTelegram, llm_server: FakeLLMServer, db_url: str
) -> None:
    async with live_bot(tg, llm_server.base_url, db_url) as bot:
        await at_first_question(tg, bot)
        await send_document(tg, CHAT, USER, pdf_resume())
        await tg.wait_for(lambda: text("resume_received") in tg.bot_texts(CHAT))
        await bot.engine.idle()
        assert VISIBLE[1] in _database_text(db_url)  # it is there before
        await tg.send_text(CHAT, USER, "/delete")
        await tg.wait_for(lambda: any(text("delete_confirm") in t for t in tg.bot_texts(CHAT)))
        ask = next(m for m in reversed(tg.transcript(CHAT)) if m.buttons)
        yes = next(d for label, d in ask.buttons if label == text("confirm_yes"))
        await tg.tap(CHAT, USER, ask.message_id, yes)
        await tg.wait_for(lambda: text("delete_done") in tg.bot_texts(CHAT))
        await bot.engine.idle()
        everything = _database_text(db_url)
        for part in (*VISIBLE, HIDDEN, "Hobbies: chess", "cv.pdf"):
            assert part not in everything


def _database_text(db_url: str) -> str:
    """Every value of every table, as one text: what the database still holds."""
    path = db_url.split("///", 1)[1]
    with sqlite3.connect(path) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return "\n".join(
            repr(row) for table in tables for row in db.execute(f'SELECT * FROM "{table}"')
        )


async def test_the_retention_purge_erases_the_stored_resume(
    tg: FakeTelegram, llm_server: FakeLLMServer, db_url: str
) -> None:
    async with live_bot(tg, llm_server.base_url, db_url) as bot:
        await at_first_question(tg, bot)
        await send_document(tg, CHAT, USER, pdf_resume())
        await tg.wait_for(lambda: text("resume_received") in tg.bot_texts(CHAT))
        await bot.engine.idle()
        assert VISIBLE[1] in _database_text(db_url)
        assert await bot.store.purge_older_than(datetime.now(UTC) + timedelta(days=1)) == 1
        assert VISIBLE[1] not in _database_text(db_url)
