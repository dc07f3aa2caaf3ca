"""An invitation's résumé through the real python-telegram-bot client and the fake Bot API:
the hiring desk makes the invitation with a parsed PDF, the candidate opens the deep link
(/start <token>), and the interview's résumé follow-up quotes, verified, what that résumé
says. An expired link gets its own sentence, in the candidate's language, and starts nothing."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from bot.domain import DocumentRef, utcnow
from bot.interview.desk import HiringDesk
from bot.resume.step import read_resume
from bot.starts import INVITATION_EXPIRED
from bot.store.api import InvitationExpired
from bot.texts import text
from tests.fakes.llm_server import FakeLLMServer
from tests.fakes.telegram import FakeTelegram
from tests.flows.test_interview import ANSWERS
from tests.interview.judge import schema_name
from tests.resume.documents import HIDDEN, VISIBLE, pdf_resume
from tests.resume.test_resume_follow_up import SNIPPET, matcher
from tests.resume.test_resume_telegram import _database_text, interview_state, live_bot

CHAT = USER = 7373
CV_NAME = "Jane Doe CV.pdf"


def question(n: int) -> str:
    return f"Question {n} of 6:"


async def test_the_invitations_resume_is_quoted_in_the_follow_up(
    tg: FakeTelegram, llm_server: FakeLLMServer, db_url: str
) -> None:
    llm_server.default = matcher(
        [
            {"id": "python", "met": True, "quote": SNIPPET},
            {"id": "sql", "met": True, "quote": "PostgreSQL schema design"},
        ]
    )
    async with live_bot(tg, llm_server.base_url, db_url) as bot:
        data = pdf_resume()
        cv = read_resume(data, DocumentRef("F-cv", CV_NAME, "application/pdf", len(data)))
        desk = HiringDesk(bot.store, bot.engine.prompts)
        invitation = await desk.invite("python-backend", "Jane Doe", "U-hiring", cv, CV_NAME)
        assert _database_text(db_url).count(VISIBLE[1]) == 1  # with the invitation, for now

        await tg.send_text(CHAT, USER, f"/start {invitation.token}", language_code="en")
        await tg.wait_for(lambda: any(m.buttons for m in tg.transcript(CHAT)))
        consent = next(m for m in tg.transcript(CHAT) if m.buttons)
        assert text("interview_resume_attached") in consent.text  # the candidate is told
        accept = next(
            d for label, d in consent.buttons if label == text("interview_consent_accept")
        )
        await tg.tap(CHAT, USER, consent.message_id, accept)
        await tg.wait_for(lambda: any(question(1) in t for t in tg.bot_texts(CHAT)))

        await tg.send_text(CHAT, USER, ANSWERS[0])
        await tg.wait_for(lambda: any(question(2) in t for t in tg.bot_texts(CHAT)))
        follow_up = text("follow_up_resume", snippet=SNIPPET)
        assert not any(follow_up in t for t in tg.bot_texts(CHAT))  # async-io: not met
        await tg.send_text(CHAT, USER, ANSWERS[1])  # api-design, which `python` names
        await tg.wait_for(lambda: follow_up in tg.bot_texts(CHAT))
        assert not any(question(3) in t for t in tg.bot_texts(CHAT))  # asked before moving on
        await tg.send_text(CHAT, USER, "I wrote the billing service's Python core myself.")
        await tg.wait_for(lambda: any(question(3) in t for t in tg.bot_texts(CHAT)))
        await bot.engine.idle()

        state = await interview_state(bot)
        assert state.resume is not None and state.resume.source == "invitation"
        assert state.resume.filename == CV_NAME and HIDDEN not in state.resume.text
        [probe] = state.resume_probes
        assert (probe.requirement_id, probe.question_id) == ("python", "api-design")
        assert probe.snippet == SNIPPET and SNIPPET in state.resume.text  # verified, verbatim
        assert state.follow_up_texts["api-design"] == [follow_up]
        assert sum(t == follow_up for t in tg.bot_texts(CHAT)) == 1  # once, not twice
        # the résumé reached the model once, for the match; and moved, not copied
        with_cv = [r for r in llm_server.requests if VISIBLE[1] in str(r["messages"])]
        assert [schema_name(r) for r in with_cv] == ["Judgements"]
        assert _database_text(db_url).count(VISIBLE[1]) == 1


@pytest.mark.parametrize("lang", ["en", "zh"])
async def test_an_expired_link_is_refused_in_the_candidates_language(
    tg: FakeTelegram,
    llm_server: FakeLLMServer,
    db_url: str,
    lang: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="bot.starts")
    async with live_bot(tg, llm_server.base_url, db_url) as bot:
        an_hour_ago = utcnow() - timedelta(hours=1)
        expired = await bot.store.create_invitation(
            "inv-late", "python-backend", "Jane", "U-hiring", expires_at=an_hour_ago
        )
        await tg.send_text(CHAT, USER, f"/start {expired.token}", language_code=lang)
        await tg.wait_for(lambda: len(tg.bot_texts(CHAT)) >= 1)
        await bot.engine.idle()
        assert tg.bot_texts(CHAT) == [text("invitation_expired", lang)]
        assert text("invitation_expired", lang) != text("invitation_invalid", lang)

        # nothing started, nothing used, no model called; the refusal is logged and audited
        assert await bot.store.list_conversations() == []
        assert llm_server.requests == []
        logged = [r.getMessage() for r in caplog.records]
        assert any("inv-... for python-backend refused: expired" in line for line in logged)
        [audit] = await bot.store.audit_log(event=INVITATION_EXPIRED)
        assert audit.subject == "role:python-backend" and audit.details["token_prefix"] == "inv-"
        assert audit.details["expires_at"] == an_hour_ago.isoformat()
        with pytest.raises(InvitationExpired):  # still unused: it was refused, not spent
            await bot.store.use_invitation(expired.token, int(audit.actor.removeprefix("user:")))

        # an unknown token still gets the other sentence
        await tg.send_text(CHAT, USER, "/start inv-never-made", language_code=lang)
        await tg.wait_for(lambda: len(tg.bot_texts(CHAT)) >= 2)
        assert tg.bot_texts(CHAT)[-1] == text("invitation_invalid", lang)
