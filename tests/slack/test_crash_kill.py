"""SIGKILL between Slack's acceptance of a reply and its outbox row's DELIVERED update
(`delivery.accepted`), through a real `chatbot run` process (Socket Mode) and the fake
Slack: the restarted process finds the reply by its metadata and does not post it again.

Without the lookup the restarted process would post the reply a second time: the test
counts the bot's messages in the user's thread."""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.store.api import DeliveryState
from bot.store.sql import SqlStore
from tests.bot_process import BotProcess
from tests.fakes.llm_server import Answer, FakeLLMServer
from tests.fakes.slack import FakeMessage, FakeSlack
from tests.harness import eventually

ANSWER = "Open the portal, choose Reset, and sign in again with the new password."


class SlackBotProcess(BotProcess):
    """`chatbot run` with the Slack adapter in Socket Mode against the fake, killable."""

    def __init__(
        self, slack: FakeSlack, llm: FakeLLMServer, db_url: str, workdir: Path, **env: str
    ) -> None:
        super().__init__(llm, db_url, workdir, **env)
        self.slack = slack

    def platform_env(self) -> dict[str, str]:
        return {
            "BOT_SLACK_BOT_TOKEN": self.slack.bot_token,
            "BOT_SLACK_APP_TOKEN": self.slack.app_token,
            "BOT_SLACK_API_URL": self.slack.api_url,
        }

    async def start(self, crash_at: str | None = None) -> None:
        """Start the bot and wait until its Socket Mode connection is open."""
        opened = len(self.slack.calls_to("apps.connections.open"))
        await self.spawn(crash_at)
        await self.slack.wait_for(
            lambda: len(self.slack.calls_to("apps.connections.open")) > opened or self.exited(),
            timeout=60,
        )
        await self.slack.wait_for_socket(timeout=30)


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as fake:
        yield fake


@pytest.fixture
async def bot(
    slack: FakeSlack, llm_server: FakeLLMServer, db_url: str, tmp_path: Path
) -> AsyncIterator[SlackBotProcess]:
    store = SqlStore(db_url)
    try:
        await store.upgrade()
    finally:
        await store.close()
    process = SlackBotProcess(slack, llm_server, db_url, tmp_path)
    yield process
    await process.stop()


async def pending_deliveries(db_url: str) -> int:
    store = SqlStore(db_url)
    try:
        return (await store.delivery_counts())[DeliveryState.PENDING]
    finally:
        await store.close()


def replies_in(slack: FakeSlack, channel: str, thread_ts: str) -> list[FakeMessage]:
    return [m for m in slack.bot_messages(channel, thread_ts) if not m.streaming and m.text]


@pytest.mark.parametrize("where", ["channel thread", "DM thread"])
async def test_kill_after_slack_took_the_reply_shows_it_once_after_a_restart(
    slack: FakeSlack, llm_server: FakeLLMServer, bot: SlackBotProcess, db_url: str, where: str
) -> None:
    await bot.start(crash_at="delivery.accepted")
    llm_server.enqueue(Answer(text=ANSWER, token_delay=0.01))
    if where == "channel thread":
        _, event = slack.mention("how do I reset my password?")
        channel = "C_GENERAL"
    else:  # a top-level DM, answered in the thread under it (the default)
        event = slack.dm("how do I reset my password?")
        channel = "D_ALICE"
    thread_ts = str(event["event"]["ts"])
    await slack.send_socket_event(event, timeout=30)
    assert await bot.killed() == -signal.SIGKILL
    # Slack took the whole streamed reply, marked with its outbox row; the row is pending.
    [shown] = replies_in(slack, channel, thread_ts)
    assert shown.text == ANSWER
    assert shown.metadata is not None and shown.metadata["event_type"] == "chatbot_reply"
    left = await pending_deliveries(db_url)  # the answer's row, and any after it (buttons)
    assert left >= 1

    await bot.start()

    async def all_delivered() -> bool:  # every row delivered (or found) by the new process
        return await pending_deliveries(db_url) == 0

    await eventually(all_delivered, timeout_s=30)
    await bot.stop()
    assert [m.text for m in replies_in(slack, channel, thread_ts)].count(ANSWER) == 1
    # Every reply once, in the thread or (a DM's later replies, after a restart: the thread
    # is a hint kept in memory) in the DM's main view; the answer in its thread only.
    texts = [m.text for m in slack.bot_messages_anywhere(channel) if m.text]
    assert texts.count(ANSWER) == 1 and len(texts) == len(set(texts)) == left, texts
    assert "was shown by an earlier attempt" in bot.log(2)
    assert len(llm_server.requests) == 1  # the turn was not run again
    lookups = [
        c
        for c in slack.calls
        if c.method in ("conversations.replies", "conversations.history") and c.ok
    ]
    assert lookups
    assert all(str(c.params.get("include_all_metadata")) in ("1", "true") for c in lookups)
