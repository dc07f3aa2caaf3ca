"""The hiring channel end to end: interviews run through the real engine (console
platform), reports and decisions go through the real slack-bolt app over the fake Slack."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from bot.domain import ConversationKey, FlowStart, Incoming, InputKind, Message, Platform, UserRef
from bot.store.api import ConversationStatus
from bot.texts import text
from tests.fakes.llm_server import Answer, FakeLLMServer
from tests.fakes.slack import FakeMessage, FakeSlack
from tests.flows.test_interview import ANSWERS, answer_all, evaluation_answers, start
from tests.hiring.live import DECIDER, MANAGER, STRANGER, Live, live_bot


@pytest.fixture
async def live(slack: FakeSlack, llm_server: FakeLLMServer, db_url: str) -> AsyncIterator[Live]:
    async with live_bot(slack, llm_server, db_url) as built:
        yield built


def shown(message: FakeMessage) -> str:
    return message.text + json.dumps(message.blocks, ensure_ascii=False)


async def interview(live: Live, evaluation: list[Answer] | None = None) -> FakeMessage:
    """A whole interview through the engine; the message it brought to the hiring channel."""
    before = len(live.hiring_messages())
    await start(live.core)
    await answer_all(live.core, live.llm, evaluation or evaluation_answers())
    return (await live.slack.wait_for(lambda: live.hiring_messages()[before:]))[0]


async def evaluation_id(live: Live) -> int:
    conversations = await live.core.store.list_conversations(flow="interview")
    return (await live.core.store.evaluations_for(conversations[-1].id))[-1].id


async def test_evaluation_report_decided_by_allowed_people_refused_for_others(live: Live) -> None:
    report = await interview(live)
    body = shown(report)
    assert "Interview report: Alice · Python backend developer" in body
    assert "Recommendation (advice for a person to decide): Advance" in body
    assert "&gt;= 3.5" in body  # the reason, escaped
    assert "> EXPLAIN ANALYZE" in body  # a verified evidence quote
    assert "No decision yet" in body
    eid = await evaluation_id(live)

    assert await live.tap(report, "hiring:advance", str(eid), STRANGER) == 200
    [refusal] = await live.slack.wait_for(lambda: live.ephemeral_for(STRANGER))
    assert refusal.text == text("hiring_refused") and refusal.channel == "C_HIRING"
    assert await live.core.store.decisions(eid) == []
    assert "No decision yet" in shown(report)

    assert await live.tap(report, "hiring:reject", str(eid), MANAGER) == 200  # channel member
    await live.slack.wait_for(lambda: "Decided: Reject by <@U_MANAGER>" in shown(report))
    [decision] = await live.core.store.decisions(eid)
    assert (decision.decision, decision.decided_by) == ("reject", MANAGER)
    audit = await live.core.store.audit_log()
    assert any(a.event == "decision" and a.actor == MANAGER for a in audit)

    assert await live.tap(report, "hiring:needs_review", str(eid), DECIDER) == 200  # listed
    await live.slack.wait_for(lambda: "Needs human review by <@U_DECIDER>" in shown(report))
    assert [d.decision for d in await live.core.store.decisions(eid)] == [
        "reject",
        "needs_review",
    ]
    assert live.slack.calls_to("conversations.members")
    assert not live.ephemeral_for(MANAGER) and not live.ephemeral_for(DECIDER)


async def test_full_transcript_posted_in_the_reports_thread(live: Live) -> None:
    report = await interview(live)
    [conversation] = await live.core.store.list_conversations(flow="interview")
    assert await live.tap(report, "hiring:transcript", str(conversation.id), MANAGER) == 200

    def title_and_transcript() -> list[FakeMessage]:
        replies = live.slack.bot_messages("C_HIRING", report.ts)
        return replies if len(replies) >= 2 else []

    thread = await live.slack.wait_for(title_and_transcript)
    transcript = "\n".join(m.text for m in thread)
    assert "Transcript of the interview with Alice" in transcript
    assert all(answer.replace(">", "&gt;") in transcript for answer in ANSWERS)
    assert "*Interviewer:*" in transcript and "*Candidate:*" in transcript
    assert any(a.event == "transcript" for a in await live.core.store.audit_log())


async def test_a_long_transcript_is_uploaded_as_a_file(live: Live) -> None:
    long_answers = [f"{answer} {'More detail. ' * 400}" for answer in ANSWERS]
    await start(live.core)
    await answer_all(live.core, live.llm, evaluation_answers(), long_answers)
    [report] = await live.slack.wait_for(live.hiring_messages)
    [conversation] = await live.core.store.list_conversations(flow="interview")
    await live.tap(report, "hiring:transcript", str(conversation.id), MANAGER)
    [upload] = await live.slack.wait_for(
        lambda: [m for m in live.slack.bot_messages("C_HIRING", report.ts) if m.files]
    )
    content = upload.files[0]["content"].decode()
    assert content.startswith("Transcript of the interview with Alice")
    missing = [a[:80] for a in long_answers if a.strip() not in content]
    assert not missing, (missing, content[:3000])


async def test_invitation_command_gives_a_single_use_deep_link(live: Live) -> None:
    status, command = await live.slack.send_command(
        live.url, "/interview", "invite python-backend Ada Lovelace", user_id=MANAGER
    )
    assert status == 200
    [answer] = await live.slack.wait_for(lambda: live.slack.responses_to(command))
    assert answer["response_type"] == "ephemeral"
    assert "Python backend developer" in answer["text"] and "(Ada Lovelace)" in answer["text"]
    match = re.search(
        r"https://t\.me/acme_interview_bot\?start=([A-Za-z0-9_-]{16,64})\b", answer["text"]
    )
    assert match is not None
    token = match.group(1)
    # until when it works: a date Slack shows in the reader's zone, 14 days (the default) on
    expiry = re.search(r"until <!date\^(\d+)\^[^|>]+\|([^>]+)>\.", answer["text"])
    assert expiry is not None
    [made] = await live.core.store.audit_log(event="invitation")
    stored = datetime.fromisoformat(made.details["expires_at"])
    assert int(expiry.group(1)) == int(stored.timestamp())
    assert expiry.group(2) == stored.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    assert abs(stored - datetime.now(UTC) - timedelta(days=14)) < timedelta(minutes=1)

    def starting(user: str) -> Incoming:
        return Incoming(
            ConversationKey.user_in_chat(Platform.CONSOLE, f"chat-{user}", user),
            UserRef(Platform.CONSOLE, user, user.title()),
            InputKind.START,
            start=FlowStart("interview", {"invitation": token}),
        )

    await (await live.core.engine.submit(starting("ada"))).wait()
    [conversation] = await live.core.store.list_conversations(flow="interview")
    assert conversation.state["role_id"] == "python-backend"
    assert "AI assistant" in live.core.seen.texts()[-1]
    await (await live.core.engine.submit(starting("mallory"))).wait()
    assert live.core.seen.texts()[-1] == text("invitation_invalid")
    assert len(await live.core.store.list_conversations(flow="interview")) == 1
    assert any(
        a.event == "invitation" and a.actor == MANAGER for a in await live.core.store.audit_log()
    )


async def test_with_no_ttl_the_confirmation_says_the_link_does_not_expire(
    slack: FakeSlack, llm_server: FakeLLMServer, db_url: str
) -> None:
    async with live_bot(slack, llm_server, db_url, invitation_ttl_days=0) as live:
        _, command = await live.slack.send_command(
            live.url, "/interview", "invite python-backend Ada", user_id=MANAGER
        )
        [answer] = await live.slack.wait_for(lambda: live.slack.responses_to(command))
        assert "does not expire" in answer["text"] and "<!date^" not in answer["text"]
        [made] = await live.core.store.audit_log(event="invitation")
        assert made.details["expires_at"] is None


async def test_invitation_command_refusals_and_help(live: Live) -> None:
    _, stranger = await live.slack.send_command(
        live.url, "/interview", "invite python-backend", user_id=STRANGER
    )
    _, unknown = await live.slack.send_command(
        live.url, "/interview", "invite astronaut Neil", user_id=DECIDER
    )
    _, usage = await live.slack.send_command(live.url, "/interview", "", user_id=DECIDER)
    [refused] = await live.slack.wait_for(lambda: live.slack.responses_to(stranger))
    assert refused["text"] == text("hiring_refused")
    [no_role] = await live.slack.wait_for(lambda: live.slack.responses_to(unknown))
    assert "There is no role `astronaut`" in no_role["text"]
    assert "`product-manager`, `python-backend`" in no_role["text"]
    [helped] = await live.slack.wait_for(lambda: live.slack.responses_to(usage))
    assert "/interview invite <role> [candidate name]" in helped["text"].replace("&lt;", "<")
    assert await live.core.store.audit_log() == []  # no invitation was made


async def test_forged_slash_command_is_refused(live: Live) -> None:
    status, command = await live.slack.send_command(
        live.url, "/interview", "invite python-backend", user_id=MANAGER, secret="forged"
    )
    assert status == 401
    assert live.slack.responses_to(command) == []


async def test_status_lists_interviews_in_progress_and_awaiting_a_decision(live: Live) -> None:
    await interview(live)  # Alice: finished, evaluated, no decision yet
    live.as_candidate("bob", "Bob")
    await start(live.core)  # Bob: at question 1
    _, command = await live.slack.send_command(live.url, "/interview", "status", user_id=MANAGER)
    [answer] = await live.slack.wait_for(lambda: live.slack.responses_to(command))
    body = answer["text"]
    assert body.index("*In progress*") < body.index("Bob") < body.index("*Awaiting a decision*")
    assert "Bob · Python backend developer · question 1 of 6" in body
    assert "Alice · Python backend developer · Advance" in body

    report = live.hiring_messages()[0]
    await live.tap(report, "hiring:advance", str(await evaluation_id_of(live, "alice")), MANAGER)
    await live.slack.wait_for(lambda: "Decided: Advance" in shown(report))
    _, again = await live.slack.send_command(live.url, "/interview", "status", user_id=MANAGER)
    [after] = await live.slack.wait_for(lambda: live.slack.responses_to(again))
    assert "Alice" not in after["text"] and "Bob" in after["text"]


async def evaluation_id_of(live: Live, user_id: str) -> int:
    for conversation in await live.core.store.list_conversations(flow="interview"):
        if conversation.key.user_id == user_id:
            return (await live.core.store.evaluations_for(conversation.id))[-1].id
    raise AssertionError(user_id)


async def test_human_alternative_and_expiry_are_announced(live: Live) -> None:
    await start(live.core, consent=False)
    await live.core.send("human", kind=InputKind.ACTION, action_id="consent", flow="interview")
    [human] = await live.slack.wait_for(live.hiring_messages)
    assert "Alice asked for an interview with a person" in human.text
    assert "Python backend developer" in human.text

    live.as_candidate("carol", "Carol")
    await start(live.core)
    carol = (await live.core.store.list_conversations(flow="interview"))[-1]
    await live.core.engine.notify(
        carol.id, [Message(text("interview_expired"))], status=ConversationStatus.EXPIRED
    )
    expired = await live.slack.wait_for(lambda: live.hiring_messages()[1:])
    assert "The interview with Carol (Python backend developer) expired" in expired[0].text
    assert len(live.hiring_messages()) == 2


async def test_failed_evaluation_is_announced_and_retried_by_a_decider(live: Live) -> None:
    notice = await interview(live, [Answer(text="Score: 5/5"), Answer(text="{oops")])
    assert "failed, and can be retried" in notice.text
    [conversation] = await live.core.store.list_conversations(flow="interview")
    buttons = notice.blocks[-1]["elements"]
    assert [(b["action_id"], b["value"]) for b in buttons] == [
        ("hiring:retry", str(conversation.id)),
        ("hiring:transcript", str(conversation.id)),
    ]

    await live.tap(notice, "hiring:retry", str(conversation.id), STRANGER)
    await live.slack.wait_for(lambda: live.ephemeral_for(STRANGER))
    assert len(await live.core.store.evaluations_for(conversation.id)) == 1

    live.llm.enqueue(*evaluation_answers(score=2))
    await live.tap(notice, "hiring:retry", str(conversation.id), DECIDER)
    [report] = await live.slack.wait_for(lambda: live.hiring_messages()[1:])
    assert "Recommendation (advice for a person to decide): Reject" in shown(report)
    await live.slack.wait_for(lambda: "Retry requested by <@U_DECIDER>" in shown(notice))
    assert [b["action_id"] for b in notice.blocks[-1]["elements"]] == ["hiring:transcript"]
    statuses = [e.status for e in await live.core.store.evaluations_for(conversation.id)]
    assert statuses == ["failed", "ok"]

    # a second tap on the same notice does nothing more
    await live.tap(notice, "hiring:retry", str(conversation.id), DECIDER)
    await live.slack.wait_for(lambda: live.ephemeral_for(DECIDER))
    assert len(live.hiring_messages()) == 2
