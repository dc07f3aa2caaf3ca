"""The help desk end to end: the real slack-bolt app over the fake Slack, the real engine,
store and LLM client, with the support flow answering from the scripted model."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest

from bot.domain import ConversationKey, Platform
from bot.store.api import Role
from tests.fakes.llm_server import Answer, FakeLLMServer
from tests.fakes.slack import FakeSlack
from tests.harness import eventually
from tests.hiring.live import Live, live_bot

REPLY = (
    "Open the self-service portal, choose Reset password, and follow the link we email you. "
    "The new password must have twelve characters or more."
)


@pytest.fixture
async def live(slack: FakeSlack, llm_server: FakeLLMServer, db_url: str) -> AsyncIterator[Live]:
    async with live_bot(slack, llm_server, db_url) as built:
        yield built


async def stored_replies(live: Live, key: ConversationKey) -> list[str]:
    conversation = await live.core.store.active_conversation(key)
    if conversation is None:
        return []
    history = await live.core.store.history(conversation.id)
    return [m.text for m in history if m.role is Role.ASSISTANT]


async def test_inline_dm_question_answered_by_edits(
    slack: FakeSlack, llm_server: FakeLLMServer, db_url: str
) -> None:
    async with live_bot(slack, llm_server, db_url, slack_dm_replies="inline") as live:
        live.llm.enqueue(Answer(text=REPLY, token_delay=0.02))
        payload = live.slack.dm("How do I reset my password?")
        assert await live.slack.send_event(live.url, payload) == 200
        await live.slack.wait_for(
            lambda: [m.text for m in live.slack.bot_messages("D_ALICE")] == [REPLY], timeout=10
        )
        # an inline top-level DM grows by edits while the model writes
        texts = [c.params.get("markdown_text", "") for c in live.slack.calls_to("chat.update")]
        assert len(texts) >= 2 and texts[0] != REPLY and REPLY.startswith(texts[0])
        assert not live.slack.calls_to("chat.startStream")
        key = ConversationKey.user_in_chat(Platform.SLACK, "D_ALICE", "U_ALICE")

        async def stored() -> bool:
            return REPLY in await stored_replies(live, key)

        await eventually(stored)
        request = live.llm.requests[-1]
        assert request["stream"] is True
        assert request["messages"][-1] == {
            "role": "user",
            "content": "How do I reset my password?",
        }


async def test_assistant_thread_dm_streamed_natively(live: Live) -> None:
    started = live.slack.assistant_thread_started()
    assert await live.slack.send_event(live.url, started) == 200
    thread_ts = started["event"]["assistant_thread"]["thread_ts"]
    live.llm.enqueue(Answer(text=REPLY, token_delay=0.02))
    await live.slack.send_event(live.url, live.slack.dm("Reset my password", thread_ts=thread_ts))
    await live.slack.wait_for(
        lambda: (
            [(m.text, m.streaming) for m in live.slack.bot_messages("D_ALICE", thread_ts)]
            == [(REPLY, False)]
        ),
        timeout=10,
    )
    assert len(live.slack.calls_to("chat.appendStream")) >= 2  # it arrived in pieces
    assert live.slack.calls_to("chat.startStream")[0].params["thread_ts"] == thread_ts


async def test_channel_mention_answered_in_its_thread(live: Live) -> None:
    live.llm.enqueue(Answer(text=REPLY, token_delay=0.01))
    as_message, as_mention = live.slack.mention("is the VPN down?")
    assert await live.slack.send_event(live.url, as_message) == 200
    assert await live.slack.send_event(live.url, as_mention) == 200
    thread_ts = as_mention["event"]["ts"]
    await live.slack.wait_for(
        lambda: (
            [(m.text, m.streaming) for m in live.slack.bot_messages("C_GENERAL", thread_ts)]
            == [(REPLY, False)]
        ),
        timeout=10,
    )
    assert not live.slack.bot_messages("C_GENERAL")  # nothing at the channel's top level
    start = live.slack.calls_to("chat.startStream")[0].params
    assert start["recipient_user_id"] == "U_ALICE" and start["recipient_team_id"] == "T0FAKE"
    assert live.llm.requests[-1]["messages"][-1]["content"] == "is the VPN down?"
    assert len(live.llm.requests) == 1  # the `message` twin of the mention is not answered


async def test_forged_signature_is_refused_and_nothing_is_stored(live: Live) -> None:
    forged = await live.slack.send_event(live.url, live.slack.dm("hi"), secret="not-the-secret")
    stale = await live.slack.send_event(
        live.url, live.slack.dm("hi"), timestamp=int(time.time()) - 600
    )
    assert (forged, stale) == (401, 401)
    await live.core.engine.idle()
    assert await live.core.store.list_conversations() == []
    assert live.llm.requests == [] and live.slack.bot_messages_anywhere("D_ALICE") == []


async def test_a_retried_event_is_answered_once(live: Live) -> None:
    live.llm.enqueue(Answer(text=REPLY, ttft=0.3))  # slow enough for Slack to retry
    payload = live.slack.dm("hello?")
    assert await live.slack.send_event(live.url, payload) == 200
    assert await live.slack.send_event(live.url, payload, retry_num=1) == 200
    redelivered = live.slack.envelope(payload["event"])  # the same message, a new event_id
    assert await live.slack.send_event(live.url, redelivered, retry_num=2) == 200
    await live.slack.wait_for(
        lambda: [m.text for m in live.slack.bot_messages_anywhere("D_ALICE")] == [REPLY],
        timeout=10,
    )
    await live.core.engine.idle()
    assert len(live.llm.requests) == 1
    [conversation] = await live.core.store.list_conversations()
    history = await live.core.store.history(conversation.id)
    assert [m.role for m in history] == [Role.USER, Role.ASSISTANT]


@pytest.mark.parametrize("slack_options", [{"stream_window_s": 0.3}])
async def test_a_stream_closed_by_slack_is_finished_with_chat_update(live: Live) -> None:
    long_reply = " ".join([REPLY] * 3)
    live.llm.enqueue(Answer(text=long_reply, token_delay=0.02))  # ~1.3 s: past the window
    _, mention = live.slack.mention("how do I reset my password?")
    await live.slack.send_event(live.url, mention)
    thread_ts = mention["event"]["ts"]
    await live.slack.wait_for(
        lambda: (
            "".join(m.text for m in live.slack.bot_messages("C_GENERAL", thread_ts)) == long_reply
        ),
        timeout=10,
    )
    assert any(c.error == "message_not_in_streaming_state" for c in live.slack.calls)
    streamed = live.slack.bot_messages("C_GENERAL", thread_ts)[0]
    assert [c for c in live.slack.calls_to("chat.update") if c.params["ts"] == streamed.ts]
    assert not any(m.streaming for m in live.slack.bot_messages("C_GENERAL", thread_ts))
