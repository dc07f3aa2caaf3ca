"""The help desk over the fake Slack: DMs, channel mentions, assistant threads, buttons."""

from __future__ import annotations

import pytest

from bot.domain import Button, Buttons, ConversationKey, InputKind, Platform
from tests.slack.conftest import Bot, until


async def test_dm_question_streamed_in_a_thread_under_it(bot: Bot) -> None:
    payload = bot.slack.dm("How do I reset my password?")
    assert await bot.send(payload) == 200
    ts = payload["event"]["ts"]

    await bot.slack.wait_for(
        lambda: (
            [(m.text, m.streaming) for m in bot.slack.bot_messages("D_ALICE", ts)]
            == [("Hello, world.", False)]
        )
    )
    assert bot.slack.bot_messages("D_ALICE") == []  # nothing in the DM's main view
    incoming = bot.engine.submitted[0]
    assert incoming.key == ConversationKey.user_in_chat(Platform.SLACK, "D_ALICE", "U_ALICE")
    assert incoming.user.platform_user_id == "U_ALICE"
    assert incoming.text == "How do I reset my password?"
    assert incoming.start is not None and incoming.start.flow == "support"
    assert incoming.event_id == f"im:D_ALICE:{ts}"
    [start] = bot.slack.calls_to("chat.startStream")
    assert start.params["thread_ts"] == ts
    assert not bot.slack.calls_to("chat.update") and not bot.slack.calls_to("chat.postMessage")
    # the sign of work is the thread's status line, cleared by the reply
    assert bot.slack.assistant_thread("D_ALICE", ts).statuses[0] == "is thinking..."


@pytest.mark.parametrize("bot_settings", [{"slack_dm_replies": "inline"}])
async def test_inline_dm_question_answered_with_edits_at_top_level(bot: Bot) -> None:
    payload = bot.slack.dm("How do I reset my password?")
    assert await bot.send(payload) == 200

    replies = await bot.slack.wait_for(
        lambda: [m for m in bot.slack.bot_messages("D_ALICE") if m.text == "Hello, world."]
    )
    assert len(replies) == 1 and replies[0].thread_ts is None
    assert bot.slack.bot_messages_anywhere("D_ALICE") == replies
    # top-level DMs have no thread to stream into: postMessage, then chat.update
    assert not bot.slack.calls_to("chat.startStream")
    assert bot.slack.calls_to("chat.postMessage")


async def test_channel_mention_streamed_in_its_thread(bot: Bot) -> None:
    as_message, as_mention = bot.slack.mention("is the VPN down?")
    assert await bot.send(as_message) == 200
    assert await bot.send(as_mention) == 200
    thread_ts = as_mention["event"]["ts"]

    await bot.slack.wait_for(
        lambda: any(
            m.text == "Hello, world." and not m.streaming
            for m in bot.slack.bot_messages("C_GENERAL", thread_ts)
        )
    )
    assert len(bot.engine.submitted) == 1  # the `message` twin of a mention is not answered
    incoming = bot.engine.submitted[0]
    assert incoming.key == ConversationKey.thread(Platform.SLACK, "C_GENERAL", thread_ts)
    assert incoming.text == "is the VPN down?"
    assert incoming.event_id == as_mention["event"]["client_msg_id"]
    start = bot.slack.calls_to("chat.startStream")[0].params
    assert start["thread_ts"] == thread_ts and start["recipient_user_id"] == "U_ALICE"
    assert bot.slack.calls_to("chat.stopStream")
    assert not bot.slack.bot_messages("C_GENERAL")  # nothing at the channel's top level


async def test_mention_inside_a_thread_keeps_that_thread(bot: Bot) -> None:
    root = bot.slack.channel_message("printer jammed again")["event"]["ts"]
    _, mention = bot.slack.mention("can you help?", thread_ts=root)
    assert await bot.send(mention) == 200
    await bot.slack.wait_for(lambda: bot.slack.bot_messages("C_GENERAL", root))
    assert bot.engine.submitted[0].key.thread_id == root


async def test_assistant_thread_has_prompts_status_and_streamed_reply(bot: Bot) -> None:
    started = bot.slack.assistant_thread_started()
    assert await bot.send(started) == 200
    thread_ts = started["event"]["assistant_thread"]["thread_ts"]
    thread = await bot.slack.wait_for(
        lambda: (
            bot.slack.assistant_thread("D_ALICE", thread_ts).suggested_prompts
            and bot.slack.assistant_thread("D_ALICE", thread_ts)
        )
    )
    assert thread.prompts_title == "Try asking:"
    assert thread.suggested_prompts[0]["title"] == "Reset my password"

    assert await bot.send(bot.slack.dm("My laptop will not boot", thread_ts=thread_ts)) == 200
    await bot.slack.wait_for(
        lambda: any(
            m.text == "Hello, world." and not m.streaming
            for m in bot.slack.bot_messages("D_ALICE", thread_ts)
        )
    )
    assert "is thinking..." in thread.statuses
    assert thread.status == ""  # cleared by the reply
    assert bot.engine.submitted[0].key == ConversationKey.thread(
        Platform.SLACK, "D_ALICE", thread_ts
    )
    assert bot.slack.calls_to("chat.startStream")


async def test_bots_own_and_other_bots_messages_are_ignored(bot: Bot) -> None:
    edited = bot.slack.dm("typo")
    edited["event"]["subtype"] = "message_changed"
    for payload in (bot.slack.bot_message("beep"), bot.slack.own_message("Hello, world."), edited):
        assert await bot.send(payload) == 200
    assert await bot.send(bot.slack.dm("a real question")) == 200
    await until(lambda: bot.engine.submitted)
    await bot.engine.idle()
    assert [i.text for i in bot.engine.submitted] == ["a real question"]


async def test_button_tap_becomes_an_action(bot: Bot) -> None:
    bot.engine.script = lambda incoming: [
        Buttons(
            "Did that help?", (Button("Yes", "helped", "yes"), Button("No", "not_helped", "no"))
        )
    ]
    asked = bot.slack.dm("hi")
    assert await bot.send(asked) == 200
    [message] = await bot.slack.wait_for(lambda: bot.slack.bot_messages_anywhere("D_ALICE"))
    assert message.thread_ts == asked["event"]["ts"]  # in the reply thread
    actions = message.blocks[-1]["elements"]
    assert [a["action_id"] for a in actions] == ["flow:helped", "flow:not_helped"]

    bot.engine.script = lambda incoming: []
    status = await bot.slack.send_interaction(
        bot.url, bot.slack.block_action(message, "flow:helped", "yes")
    )
    assert status == 200
    tap = await until(lambda: [i for i in bot.engine.submitted if i.kind is InputKind.ACTION])
    assert tap[0].action_id == "helped" and tap[0].text == "yes"
    assert tap[0].key == ConversationKey.user_in_chat(Platform.SLACK, "D_ALICE", "U_ALICE")
