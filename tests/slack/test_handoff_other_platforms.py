"""A hand-off from a conversation outside Slack (Telegram, the terminal) goes through the
same escalation channel: the core relays both ways, whatever renders the employee's side.
Here the employee is the harness's recording renderer (the console platform)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from bot.domain import InputKind
from bot.store.api import NewHelpAnswer
from bot.texts import text
from tests.fakes.llm_server import FakeLLMServer
from tests.fakes.slack import FakeSlack
from tests.slack.desk_live import AGENT, DESK, Desk, desk_bot

PASSAGE = {"title": "Leave policy", "source": "handbook/leave.md", "text": "Lisbon: 25 days."}


@pytest.fixture
async def desk(slack: FakeSlack, llm_server: FakeLLMServer, db_url: str) -> AsyncIterator[Desk]:
    async with desk_bot(slack, llm_server, db_url) as built:
        yield built


async def test_a_console_employee_is_relayed_through_slack(desk: Desk) -> None:
    core, slack = desk.core, desk.slack
    first = await core.send("help", kind=InputKind.COMMAND)  # the conversation starts
    assert first.conversation_id is not None
    # what the answering flow found, as the knowledge base's answers record it
    await desk.records.record_answer(
        NewHelpAnswer(
            first.conversation_id,
            "How many leave days in Lisbon?",
            "-",
            "declined",
            False,
            [PASSAGE],
        )
    )
    await core.send("human", kind=InputKind.COMMAND)
    [post] = await desk.until(lambda: desk.with_button(DESK, "helpdesk:resolve"))
    shown = json.dumps(post.blocks, ensure_ascii=False)
    assert "Alice (console)" in shown and "How many leave days in Lisbon?" in shown
    assert "handbook/leave.md" in shown and "Lisbon: 25 days." in shown  # the passages

    reply = slack.channel_message(
        "25 days, see the policy.", user=AGENT, channel=DESK, thread_ts=post.ts
    )
    assert await slack.send_event(desk.url, reply) == 200
    relayed = text("desk_relayed", name="Dana", text="25 days, see the policy.")
    await core.seen.wait_for(lambda: relayed in core.seen.texts(), timeout_s=20)

    await core.send("thank you!")
    await desk.until(
        lambda: [m for m in slack.bot_messages(DESK, post.ts) if "thank you!" in m.text]
    )
    assert desk.llm.requests == []  # the bot said nothing of its own meanwhile

    await desk.tap(post, "helpdesk:resolve", user=AGENT)
    resolved = text("desk_handoff_resolved")
    await core.seen.wait_for(lambda: resolved in core.seen.texts(), timeout_s=20)
