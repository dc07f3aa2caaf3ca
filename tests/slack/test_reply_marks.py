"""Replies marked with their outbox row (Slack message metadata): the fake keeps and checks
metadata as Slack does, and a lookup that fails never loses the reply: it is posted."""

from __future__ import annotations

from typing import Any

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.store.api import DeliveryState
from tests.fakes.llm_server import FakeLLMServer
from tests.fakes.slack import FakeSlack
from tests.harness import eventually
from tests.hiring.live import live_bot

REPLY = "Reset it from the portal, then sign in again."
MARK = {"event_type": "chatbot_reply", "event_payload": {"outbox_id": 7, "part": 0, "parts": 1}}


def client_of(slack: FakeSlack) -> AsyncWebClient:
    return AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)


@pytest.mark.parametrize(
    ("metadata", "error"),
    [
        ("{not json", "invalid_metadata_format"),
        ('["a", "list"]', "invalid_metadata_format"),
        ({"event_type": "chatbot_reply"}, "invalid_metadata_schema"),
        ({"event_payload": {"outbox_id": 7}}, "invalid_metadata_schema"),
        ({"event_type": "", "event_payload": {}}, "invalid_metadata_schema"),
        ({"event_type": "x", "event_payload": "7"}, "invalid_metadata_schema"),
        ({"event_type": "x", "event_payload": {"id": None}}, "invalid_metadata_schema"),
        ({"event_type": "x", "event_payload": {"id": [1, 2]}}, "invalid_metadata_schema"),
        ({"event_type": "x", "event_payload": {}, "extra": 1}, "invalid_metadata_schema"),
    ],
)
async def test_malformed_metadata_is_refused_and_nothing_is_posted(
    metadata: Any, error: str
) -> None:
    async with FakeSlack() as slack:
        with pytest.raises(SlackApiError) as refused:
            await client_of(slack).chat_postMessage(channel="C1", text="hi", metadata=metadata)
        assert refused.value.response["error"] == error
        assert slack.workspace.messages == []


async def test_metadata_is_kept_and_read_back_only_when_asked_for() -> None:
    async with FakeSlack() as slack:
        client = client_of(slack)
        posted = await client.chat_postMessage(channel="C1", text="hi", metadata=MARK)
        reply = await client.chat_postMessage(
            channel="C1", text="in the thread", thread_ts=posted["ts"], metadata=MARK
        )
        await client.chat_update(channel="C1", ts=reply["ts"], text="edited")  # keeps it
        plain = await client.conversations_history(channel="C1")
        assert [m.get("metadata") for m in plain["messages"]] == [None]
        full = await client.conversations_history(channel="C1", include_all_metadata=True)
        assert [m["metadata"] for m in full["messages"]] == [MARK]
        assert full["messages"][0]["reply_count"] == 1
        thread = await client.conversations_replies(
            channel="C1", ts=posted["ts"], include_all_metadata=True
        )
        assert [(m["text"], m["metadata"]) for m in thread["messages"]] == [
            ("hi", MARK),
            ("edited", MARK),
        ]
        slack.scopes.discard("channels:history")
        with pytest.raises(SlackApiError) as refused:
            await client.conversations_history(channel="C1")
        assert refused.value.response["error"] == "missing_scope"


async def test_a_stopped_stream_carries_its_metadata() -> None:
    async with FakeSlack() as slack:
        client = client_of(slack)
        parent = await client.chat_postMessage(channel="D1", text="question")
        stream = await client.chat_startStream(
            channel="D1", thread_ts=parent["ts"], markdown_text="Ans"
        )
        await client.chat_stopStream(
            channel="D1", ts=stream["ts"], markdown_text="wer", metadata=MARK
        )
        [message] = slack.bot_messages("D1", parent["ts"])
        assert (message.text, message.metadata) == ("Answer", MARK)


@pytest.mark.parametrize("failure", ["missing_scope", "ratelimited"])
async def test_a_failed_lookup_posts_the_reply_rather_than_lose_it(
    slack: FakeSlack, llm_server: FakeLLMServer, db_url: str, failure: str
) -> None:
    llm_server.enqueue(REPLY)
    slack.inject("chat.postMessage", error="internal_error", times=10**6)
    async with live_bot(slack, llm_server, db_url, slack_dm_replies="inline") as live:
        assert await slack.send_event(live.url, slack.dm("where do I reset it?")) == 200

        async def kept() -> bool:
            counts = await live.core.store.delivery_counts()
            return counts[DeliveryState.PENDING] == 1

        await eventually(kept)
    slack.inject_clear("chat.postMessage")
    if failure == "missing_scope":
        slack.scopes.discard("im:history")  # an app installed without it
    else:
        slack.inject("conversations.history", error="ratelimited", retry_after=60, times=10**6)

    # Restarted: the row may have been posted by the earlier attempt, so the bot looks
    # first; the lookup fails, and the reply is posted all the same (and without waiting
    # out the lookup's Retry-After).
    async with live_bot(slack, llm_server, db_url, slack_dm_replies="inline") as live:
        await slack.wait_for(lambda: slack.bot_messages("D_ALICE"), timeout=20)

        async def delivered() -> bool:
            counts = await live.core.store.delivery_counts()
            return counts[DeliveryState.PENDING] == 0

        await eventually(delivered)
    lookups = slack.calls_to("conversations.history")
    assert lookups and all(c.error == failure for c in lookups)
    assert [m.text for m in slack.bot_messages("D_ALICE")] == [REPLY]
    assert slack.bot_messages("D_ALICE")[0].metadata is not None  # marked for a next time
