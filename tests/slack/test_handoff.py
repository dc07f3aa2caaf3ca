"""Hand-off to people over the real slack-bolt app, the fake Slack, the real engine and
store: employee -> escalation channel -> a help-desk reply relayed -> the employee's reply
relayed back -> Resolved -> the bot answers again."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from bot.domain import ConversationKey, Platform
from bot.store.api import ConversationStatus
from bot.texts import text
from tests.fakes.llm_server import Answer, FakeLLMServer
from tests.fakes.slack import FakeMessage, FakeSlack
from tests.slack.desk_live import AGENT, DESK, Desk, action_ids, desk_bot

REPLY = "Restart the VPN client, then sign in again."
KEY = ConversationKey.user_in_chat(Platform.SLACK, "D_ALICE", "U_ALICE")


@pytest.fixture
async def desk(slack: FakeSlack, llm_server: FakeLLMServer, db_url: str) -> AsyncIterator[Desk]:
    async with desk_bot(slack, llm_server, db_url) as built:
        yield built


def texts_in(desk: Desk, channel: str, thread_ts: str | None = None) -> list[str]:
    if thread_ts is None and channel.startswith("D"):  # a DM: inline or in reply threads
        return [m.text for m in desk.slack.bot_messages_anywhere(channel)]
    return [m.text for m in desk.slack.bot_messages(channel, thread_ts)]


async def escalation_post(desk: Desk) -> FakeMessage:
    [post] = await desk.until(lambda: desk.with_button(DESK, "helpdesk:resolve"))
    return post


async def test_round_trip_through_the_escalation_channel(desk: Desk) -> None:
    slack = desk.slack
    desk.llm.enqueue(Answer(text=REPLY))
    asked = await desk.dm("My VPN keeps dropping every hour")
    [offer] = await desk.until(lambda: desk.with_button("D_ALICE", "flow:support:human"))
    await desk.tap(offer, "flow:support:human")

    post = await escalation_post(desk)
    shown = json.dumps(post.blocks)
    assert "<@U_ALICE>" in shown and "My VPN keeps dropping every hour" in shown
    ts = asked["event"]["ts"].replace(".", "")
    assert f"https://fake.slack.test/archives/D_ALICE/p{ts}" in shown  # chat.getPermalink
    assert text("desk_handoff_requested") in texts_in(desk, "D_ALICE")
    conversation = await desk.core.store.active_conversation(KEY)
    assert conversation is not None and conversation.status is ConversationStatus.HANDED_OFF

    # a help-desk member answers in the escalation thread: relayed to the employee
    reply = slack.channel_message(
        "Which office are you in?", user=AGENT, channel=DESK, thread_ts=post.ts
    )
    assert await slack.send_event(desk.url, reply) == 200
    relayed = text("desk_relayed", name="Dana", text="Which office are you in?")
    await desk.until(lambda: relayed in texts_in(desk, "D_ALICE"))

    # the employee answers: into the escalation thread, and the bot stays quiet
    await desk.dm("Lisbon, second floor")
    await desk.until(lambda: "<@U_ALICE>: Lisbon, second floor" in texts_in(desk, DESK, post.ts))
    await desk.core.engine.idle()
    assert len(desk.llm.requests) == 1
    assert texts_in(desk, "D_ALICE")[-1] == relayed  # nothing from the bot since

    # Resolved: the employee is told, the post says who, the bot answers again
    await desk.tap(await escalation_post(desk), "helpdesk:resolve", user=AGENT)
    resolved = text("desk_handoff_resolved")
    await desk.until(lambda: resolved in texts_in(desk, "D_ALICE"))
    updated = await desk.until(
        lambda: [m for m in slack.bot_messages(DESK) if "Resolved by" in json.dumps(m.blocks)]
    )
    assert "helpdesk:resolve" not in action_ids(updated[0])
    desk.llm.enqueue(Answer(text="Printers are on every floor."))
    await desk.dm("Where is the printer?")
    await desk.until(lambda: "Printers are on every floor." in texts_in(desk, "D_ALICE"))
    assert len(desk.llm.requests) == 2

    audit = [e.event for e in await desk.core.store.audit_log()]
    assert "handoff" in audit and "handoff_resolved" in audit
    counts = await desk.records.help_desk_counts()
    assert counts.escalated == 1


async def test_human_command_hands_off_and_a_second_resolved_does_nothing(desk: Desk) -> None:
    await desk.dm("/human")
    post = await escalation_post(desk)
    await desk.tap(post, "helpdesk:resolve", user=AGENT)
    await desk.until(lambda: text("desk_handoff_resolved") in texts_in(desk, "D_ALICE"))
    await desk.tap(post, "helpdesk:resolve", user="U_OTHER")  # the old post, pressed again
    await desk.core.engine.idle()
    assert texts_in(desk, "D_ALICE").count(text("desk_handoff_resolved")) == 1
    assert desk.llm.requests == []


async def test_a_reply_in_an_unrelated_desk_thread_is_not_relayed(desk: Desk) -> None:
    root = desk.slack.channel_message("lunch?", user=AGENT, channel=DESK)["event"]["ts"]
    other = desk.slack.channel_message("pizza", user="U_BOB", channel=DESK, thread_ts=root)
    assert await desk.slack.send_event(desk.url, other) == 200
    await desk.core.engine.idle()
    assert await desk.core.store.list_conversations() == []
    assert desk.slack.bot_messages_anywhere("D_ALICE") == []


async def test_a_failed_escalation_post_gives_the_conversation_back(desk: Desk) -> None:
    # the two posts of the hand-off fail: the employee's notice, then the escalation post
    desk.slack.inject("chat.postMessage", error="invalid_blocks", times=2)
    await desk.dm("/human")
    failed = text("desk_handoff_failed")
    await desk.until(lambda: failed in texts_in(desk, "D_ALICE"))
    await desk.core.engine.idle()
    conversation = await desk.core.store.active_conversation(KEY)
    assert conversation is not None and conversation.status is ConversationStatus.ACTIVE
    assert (await desk.records.help_desk_counts()).escalated == 0
    assert desk.slack.bot_messages(DESK) == []
    audit = [e.event for e in await desk.core.store.audit_log()]
    assert audit.count("handoff") == 1 and "handoff_cancelled" in audit
