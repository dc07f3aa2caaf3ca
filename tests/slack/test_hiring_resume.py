"""A résumé attached to an invitation in the hiring channel, through the real slack-bolt app
and the fake Slack's files API (files.info with the token and scope, url_private with the
Authorization header): stored with the invitation, handed to the interview on redemption,
erased by /delete and the retention purge; every refusal makes no invitation."""

from __future__ import annotations

import logging
import re
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from bot.domain import ConversationKey, FlowStart, Incoming, InputKind, Platform, UserRef
from bot.interview.state import InterviewState
from bot.texts import text
from tests.fakes.llm_server import FakeLLMServer
from tests.fakes.slack import FakeSlack
from tests.hiring.live import HIRING, MANAGER, STRANGER, Live, live_bot
from tests.resume.documents import HIDDEN, VISIBLE, pdf_resume

PDF = "application/pdf"
TOKEN = re.compile(r"\?start=([A-Za-z0-9_-]{16,64})")


@pytest.fixture
async def live(slack: FakeSlack, llm_server: FakeLLMServer, db_url: str) -> AsyncIterator[Live]:
    async with live_bot(slack, llm_server, db_url) as built:
        yield built


async def share(live: Live, body: str, files: list[dict[str, Any]], user: str = MANAGER) -> str:
    """Both events Slack sends for the shared file; the one ephemeral answer's text."""
    before = len(live.ephemeral_for(user))
    message, mention = live.slack.file_share(body, files, user=user, channel=HIRING)
    assert await live.slack.send_event(live.url, message) == 200
    assert await live.slack.send_event(live.url, mention) == 200
    answers = await live.slack.wait_for(lambda: live.ephemeral_for(user)[before:])
    await live.core.engine.idle()
    assert len(live.ephemeral_for(user)) == before + 1  # answered once, not per event
    return answers[0].text


def database_text(db_url: str) -> str:
    with sqlite3.connect(db_url.split("///", 1)[1]) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return "\n".join(repr(r) for t in tables for r in db.execute(f'SELECT * FROM "{t}"'))


def redeem(token: str, user: str = "jane") -> Incoming:
    return Incoming(
        ConversationKey.user_in_chat(Platform.CONSOLE, f"chat-{user}", user),
        UserRef(Platform.CONSOLE, user, user.title()),
        InputKind.START,
        start=FlowStart("interview", {"invitation": token}),
    )


async def test_a_shared_resume_goes_with_the_invitation_into_the_interview(
    live: Live, db_url: str
) -> None:
    cv = live.slack.add_file(pdf_resume(), "Jane Doe CV.pdf", PDF, user=MANAGER)
    answer = await share(live, "invite python-backend Jane Doe", [cv])
    match = TOKEN.search(answer)
    assert match is not None and "(Jane Doe)" in answer
    assert re.search(r"until <!date\^\d+\^[^>]+>\.", answer)  # the expiry, stated
    assert text("hiring_resume_attached_flagged", filename="Jane Doe CV.pdf") in answer
    # looked up and fetched the way Slack wants it, once
    [info] = live.slack.calls_to("files.info")
    assert info.ok and info.params["file"] == cv["id"]
    assert live.slack.file_downloads == [(cv["id"], True)]
    audit = await live.core.store.audit_log(event="invitation_resume")
    assert [(a.actor, a.details["flags"]) for a in audit] == [(MANAGER, ["hidden_text"])]
    assert VISIBLE[1] not in str(audit[0].details)  # the audit says what, not the text

    await (await live.core.engine.submit(redeem(match.group(1)))).wait()
    [conversation] = await live.core.store.list_conversations(flow="interview")
    state = InterviewState.from_stored(conversation.state)
    assert state.resume is not None and state.resume.source == "invitation"
    assert all(line in state.resume.text for line in VISIBLE) and HIDDEN not in state.resume.text
    assert {f.kind for f in state.resume.flags} == {"hidden_text"}
    assert text("interview_resume_attached") in live.core.seen.texts()[-1]  # the candidate is told
    # moved, not copied: the invitation no longer holds it
    assert database_text(db_url).count(VISIBLE[1]) == 1

    assert conversation.user_id is not None
    await live.core.store.delete_user_data(conversation.user_id, requested_by="jane")
    assert VISIBLE[1] not in database_text(db_url)


async def test_an_unused_invitations_resume_is_purged_with_the_old_conversations(
    live: Live, db_url: str
) -> None:
    cv = live.slack.add_file(pdf_resume(None), "cv.pdf", PDF, user=MANAGER)
    answer = await share(live, "invite python-backend", [cv])
    assert text("hiring_resume_attached", filename="cv.pdf") in answer
    assert VISIBLE[1] in database_text(db_url)
    await live.core.store.purge_older_than(datetime.now(UTC) - timedelta(days=1))
    assert VISIBLE[1] in database_text(db_url)  # not old yet
    await live.core.store.purge_older_than(datetime.now(UTC) + timedelta(days=1))
    assert VISIBLE[1] not in database_text(db_url)
    [purge] = await live.core.store.audit_log(event="retention_purge", limit=1)
    assert purge.details["invitation_resumes"] == 1


@pytest.mark.parametrize(
    ("content", "name", "mime", "reply", "downloads"),
    [
        (b"Jane Doe, Python developer", "cv.txt", "text/plain", "hiring_resume_unsupported", 0),
        (b"%PDF-1.4" + b"0" * (6 * 2**20), "big.pdf", PDF, "hiring_resume_too_big", 0),
        (b"%PDF-1.4 broken", "cv.pdf", PDF, "hiring_resume_unreadable", 1),
        (b"", "empty.docx", "application/octet-stream", "hiring_resume_unreadable", 1),
    ],
)
async def test_refused_files_make_no_invitation(
    live: Live,
    content: bytes,
    name: str,
    mime: str,
    reply: str,
    downloads: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="adapters.slack.hiring")
    cv = live.slack.add_file(content, name, mime, user=MANAGER)
    answer = await share(live, "invite python-backend Jane", [cv])
    assert answer == text(reply, limit=5)
    assert len(live.slack.file_downloads) == downloads
    assert await live.core.store.audit_log(event="invitation") == []
    assert any("refused" in r.getMessage() for r in caplog.records)
    assert live.slack.bot_token not in caplog.text


async def test_two_files_an_unknown_role_and_a_stranger_are_refused(live: Live) -> None:
    cv = live.slack.add_file(pdf_resume(), "cv.pdf", PDF, user=MANAGER)
    other = live.slack.add_file(pdf_resume(None), "cv2.pdf", PDF, user=MANAGER)
    assert await share(live, "invite python-backend", [cv, other]) == text("hiring_resume_one_file")
    assert "`python-backend`" in await share(live, "invite astronaut Jane", [cv])
    assert await share(live, "invite python-backend", [cv], user=STRANGER) == text("hiring_refused")
    assert live.slack.file_downloads == [] and not live.slack.calls_to("files.info")
    assert await live.core.store.audit_log(event="invitation") == []


async def test_slack_refusing_the_file_is_said_and_makes_no_invitation(live: Live) -> None:
    cv = live.slack.add_file(pdf_resume(), "cv.pdf", PDF, user=MANAGER)
    gone = dict(cv, id="F_DELETED")
    assert await share(live, "invite python-backend", [gone]) == text("hiring_resume_unavailable")
    assert live.slack.calls_to("files.info")[-1].error == "file_not_found"
    live.slack.scopes.discard("files:read")
    assert await share(live, "invite python-backend", [cv]) == text("hiring_resume_unavailable")
    assert live.slack.calls_to("files.info")[-1].error == "missing_scope"
    assert live.slack.file_downloads == []
    assert await live.core.store.audit_log(event="invitation") == []


async def test_the_fake_serves_a_file_only_with_the_bot_token(slack: FakeSlack) -> None:
    cv = slack.add_file(b"%PDF-1.4 x", "cv.pdf", PDF)
    async with aiohttp.ClientSession() as session:
        async with session.get(cv["url_private_download"]) as anonymous:
            assert anonymous.content_type == "text/html"  # the sign-in page
            assert "Sign in" in await anonymous.text()
        headers = {"Authorization": f"Bearer {slack.bot_token}"}
        async with session.get(cv["url_private_download"], headers=headers) as authorised:
            assert await authorised.read() == b"%PDF-1.4 x"
    assert slack.file_downloads == [(cv["id"], False), (cv["id"], True)]
