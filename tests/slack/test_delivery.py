"""Signatures, Slack's retries, and streaming under Slack's limits and failures."""

from __future__ import annotations

import itertools
import time
from typing import Any

import pytest

from bot.store.api import DeliveryState
from tests.fakes.llm_server import FakeLLMServer
from tests.fakes.slack import FakeSlack
from tests.harness import eventually
from tests.hiring.live import live_bot
from tests.slack.conftest import Bot, until
from tests.slack.scripted_engine import streamed

LOREM = "Restart the router, then sign in again with your new password. "


async def test_forged_and_stale_signatures_get_401_and_change_nothing(bot: Bot) -> None:
    forged = await bot.send(bot.slack.dm("hi"), secret="not-the-secret")
    stale = await bot.send(bot.slack.dm("hi"), timestamp=int(time.time()) - 600)
    assert (forged, stale) == (401, 401)
    assert await bot.send(bot.slack.dm("the real one")) == 200
    await until(lambda: bot.engine.submitted)
    await bot.engine.idle()
    assert [i.text for i in bot.engine.submitted] == ["the real one"]


async def test_a_retried_event_gets_one_answer(bot: Bot) -> None:
    payload = bot.slack.dm("hello?")
    assert await bot.send(payload) == 200
    assert await bot.send(payload, retry_num=1, retry_reason="http_timeout") == 200
    other_id = bot.slack.envelope(payload["event"])  # redelivered under a new event_id
    assert await bot.send(other_id, retry_num=2) == 200
    await bot.slack.wait_for(lambda: bot.slack.bot_messages_anywhere("D_ALICE"))
    await bot.engine.idle()
    assert {i.event_id for i in bot.engine.submitted} == {f"im:D_ALICE:{payload['event']['ts']}"}
    assert len(bot.engine.accepted) == 1
    assert len(bot.slack.bot_messages_anywhere("D_ALICE")) == 1


@pytest.mark.parametrize("slack_options", [{"stream_window_s": 0.3}])
async def test_stream_closed_by_slack_is_finished_with_chat_update(bot: Bot) -> None:
    reply = LOREM * 8
    bot.engine.script = streamed(reply, pieces=8, pause_s=0.1)
    _, mention = bot.slack.mention("help")
    await bot.send(mention)
    thread_ts = mention["event"]["ts"]
    await until(
        lambda: "".join(m.text for m in bot.slack.bot_messages("C_GENERAL", thread_ts)) == reply
    )
    closed = [c for c in bot.slack.calls if c.error == "message_not_in_streaming_state"]
    assert closed
    stream_ts = bot.slack.calls_to("chat.startStream")[0]
    first = bot.slack.bot_messages("C_GENERAL", thread_ts)[0]
    updates = [c for c in bot.slack.calls_to("chat.update") if c.params["ts"] == first.ts]
    assert updates and stream_ts.ok
    assert not bot.engine.render_errors


@pytest.mark.parametrize("slack_options", [{"streaming_supported": False}])
async def test_without_streaming_edits_at_most_once_a_second(bot: Bot) -> None:
    reply = LOREM * 6
    bot.engine.script = streamed(reply, pieces=12, pause_s=0.2)
    _, mention = bot.slack.mention("help")
    await bot.send(mention)
    thread_ts = mention["event"]["ts"]
    await until(
        lambda: [m.text for m in bot.slack.bot_messages("C_GENERAL", thread_ts)] == [reply],
        timeout=10,
    )
    writes = [c.at for c in bot.slack.calls if c.method in ("chat.update", "chat.postMessage")]
    assert len(writes) >= 3  # it really streamed
    gaps = [b - a for a, b in itertools.pairwise(writes)]
    assert min(gaps) >= 0.95
    assert bot.slack.calls_to("chat.startStream")[0].error == "unknown_method"


async def test_429_on_append_is_retried_after_retry_after(bot: Bot) -> None:
    reply = LOREM * 4
    bot.engine.script = streamed(reply, pieces=6, pause_s=0.05)
    bot.slack.inject("chat.appendStream", error="ratelimited", retry_after=1)
    _, mention = bot.slack.mention("help")
    await bot.send(mention)
    thread_ts = mention["event"]["ts"]
    await until(
        lambda: (
            [(m.text, m.streaming) for m in bot.slack.bot_messages("C_GENERAL", thread_ts)]
            == [(reply, False)]
        ),
        timeout=10,
    )
    appends = bot.slack.calls_to("chat.appendStream")
    limited = [c for c in appends if c.status == 429]
    assert len(limited) == 1
    retried = appends[appends.index(limited[0]) + 1]
    assert retried.ok and retried.at - limited[0].at >= 1.0


@pytest.mark.parametrize("bot_settings", [{"slack_dm_replies": "inline"}])
async def test_long_inline_dm_reply_split_under_the_message_limit(bot: Bot) -> None:
    reply = LOREM * 150  # ~9,600 characters
    bot.engine.script = streamed(reply, pieces=3)
    await bot.send(bot.slack.dm("tell me everything"))
    await until(
        lambda: "".join(m.text for m in bot.slack.bot_messages("D_ALICE")) == reply, timeout=10
    )
    parts = bot.slack.bot_messages("D_ALICE")
    assert len(parts) == 3 and all(len(m.text) <= 3_900 for m in parts)


async def test_long_streamed_reply_split_under_the_stream_limit(bot: Bot) -> None:
    reply = LOREM * 400  # ~25,600 characters
    bot.engine.script = streamed(reply, pieces=20)
    _, mention = bot.slack.mention("tell me everything")
    await bot.send(mention)
    thread_ts = mention["event"]["ts"]
    await until(lambda: bot.engine.accepted)
    await bot.engine.idle()  # the turn is over: every stream has been stopped
    parts = bot.slack.bot_messages("C_GENERAL", thread_ts)
    assert "".join(m.text for m in parts) == reply
    assert len(parts) == 3 and all(len(m.text) <= 12_000 and not m.streaming for m in parts)
    assert all(c.ok for c in bot.slack.calls)


async def test_fake_rate_limit_answers_429_with_retry_after(slack: FakeSlack) -> None:
    import aiohttp

    slack.set_rate_limit("users.info", 1, 60)
    slack.add_user("U_ALICE", "Alice")
    headers: dict[str, Any] = {"Authorization": f"Bearer {slack.bot_token}"}
    async with aiohttp.ClientSession() as session:
        url = f"{slack.api_url}users.info?user=U_ALICE"
        async with session.get(url, headers=headers) as first:
            assert (await first.json())["user"]["name"] == "Alice"
        async with session.get(url, headers=headers) as second:
            assert second.status == 429 and int(second.headers["Retry-After"]) >= 1


# ---- the outbox: refused and failed posts, through the real engine and store ----------

MARKDOWN_REPLY = "Open **Settings**, then [the portal](https://portal.example/reset)."
MRKDWN_REPLY = "Open *Settings*, then <https://portal.example/reset|the portal>."


@pytest.mark.parametrize("slack_options", [{"markdown_text_supported": False}])
async def test_a_refused_markdown_text_is_re_sent_as_mrkdwn_text(
    slack: FakeSlack, llm_server: FakeLLMServer, db_url: str
) -> None:
    llm_server.enqueue(MARKDOWN_REPLY)
    async with live_bot(slack, llm_server, db_url, slack_dm_replies="inline") as live:
        assert await slack.send_event(live.url, slack.dm("where do I reset it?")) == 200
        await slack.wait_for(lambda: slack.bot_messages("D_ALICE"), timeout=10)
        await live.core.engine.idle()
        assert [m.text for m in slack.bot_messages("D_ALICE")] == [MRKDWN_REPLY]
        refused = [c for c in slack.calls if c.error == "missing_argument"]
        assert refused and all("markdown_text" in c.params for c in refused)
        assert await live.core.store.delivery_counts() == {
            DeliveryState.PENDING: 0,
            DeliveryState.FAILED: 0,
        }


async def test_a_failed_post_is_kept_and_delivered_once_after_a_restart(
    slack: FakeSlack, llm_server: FakeLLMServer, db_url: str
) -> None:
    llm_server.enqueue(MARKDOWN_REPLY)
    slack.inject("chat.postMessage", error="internal_error", times=10**6)
    async with live_bot(slack, llm_server, db_url, slack_dm_replies="inline") as live:
        assert await slack.send_event(live.url, slack.dm("where do I reset it?")) == 200

        async def kept() -> bool:
            counts = await live.core.store.delivery_counts()
            return counts[DeliveryState.PENDING] == 1

        await eventually(kept)
        assert slack.bot_messages("D_ALICE") == []
    slack.inject_clear("chat.postMessage")  # Slack is back; the bot restarts

    async with live_bot(slack, llm_server, db_url, slack_dm_replies="inline") as live:
        await slack.wait_for(lambda: slack.bot_messages("D_ALICE"), timeout=20)

        async def delivered() -> bool:
            counts = await live.core.store.delivery_counts()
            return counts[DeliveryState.PENDING] == 0

        await eventually(delivered)
        await live.core.engine.idle()
        assert [m.text for m in slack.bot_messages("D_ALICE")] == [MARKDOWN_REPLY]
        assert len(llm_server.requests) == 1  # the answer was not made again
