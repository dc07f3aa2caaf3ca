"""The real bot core (engine, SqlStore, LLM client over the scripted LLM server) with the
Slack adapter, hiring desk included, serving the fake Slack over HTTP on 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from adapters.slack import SlackAdapter, StreamTiming
from bot.domain import UserRef
from bot.http import HttpServer
from bot.interview.desk import HiringDesk
from tests.fakes.llm_server import FakeLLMServer
from tests.fakes.slack import FakeMessage, FakeSlack
from tests.harness import Harness, harness
from tests.slack.conftest import settings_for

HIRING = "C_HIRING"
MANAGER = "U_MANAGER"  # a member of the hiring channel
DECIDER = "U_DECIDER"  # listed in BOT_SLACK_DECIDERS
STRANGER = "U_STRANGER"  # neither
FAST = StreamTiming(append_interval_s=0.05, edit_interval_s=0.2)


@dataclass
class Live:
    slack: FakeSlack
    llm: FakeLLMServer
    core: Harness
    adapter: SlackAdapter
    url: str

    def as_candidate(self, user_id: str, name: str) -> None:
        """Drive the next console conversation as another person."""
        self.core.user = UserRef(self.core.user.platform, user_id, name)

    def hiring_messages(self) -> list[FakeMessage]:
        return self.slack.bot_messages(HIRING)

    def ephemeral_for(self, user: str) -> list[FakeMessage]:
        return [m for m in self.slack.workspace.messages if m.ephemeral_for == user]

    async def tap(self, message: FakeMessage, action_id: str, value: str, user: str) -> int:
        return await self.slack.send_interaction(
            self.url, self.slack.block_action(message, action_id, value, user=user)
        )


@asynccontextmanager
async def live_bot(
    slack: FakeSlack, llm: FakeLLMServer, db_url: str, **settings: Any
) -> AsyncIterator[Live]:
    slack.set_members(HIRING, ["U_OTHER", MANAGER])
    values: dict[str, Any] = {
        "slack_hiring_channel": HIRING,
        "slack_deciders": DECIDER,
        "telegram_bot_username": "acme_interview_bot",
    }
    values.update(settings)
    settings = settings_for(slack, **values)
    async with harness(llm.base_url, db_url) as core:
        desk = HiringDesk(core.store, core.engine.prompts, settings.invitation_ttl_days)
        adapter = SlackAdapter(settings, core.engine, core.store, timing=FAST, hiring=desk)
        await adapter.start()
        http = HttpServer("127.0.0.1", 0, core.store, core.llm)  # the bot's own server
        http.add_routes(adapter.http_routes())
        await http.start()
        try:
            yield Live(slack, llm, core, adapter, f"http://127.0.0.1:{http.port}/slack/events")
        finally:
            await core.engine.idle()
            await http.stop()
            await adapter.stop()
