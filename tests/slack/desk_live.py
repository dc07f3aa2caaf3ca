"""The real bot core with the help desk (feedback, pinned answers, hand-off) and the Slack
adapter with an escalation channel, serving the fake Slack over HTTP on 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from adapters.slack import SlackAdapter, StreamTiming
from bot.app import default_flows
from bot.flows.base import Flow, FlowRegistry
from bot.http import HttpServer
from bot.interview.flow import InterviewFlow
from bot.pinned_answers import PinnedAnswers
from bot.store.feedback import SqlHelpDesk
from bot.store.sql import SqlStore
from bot.support_desk import SupportDesk
from tests.fakes.llm_server import FakeLLMServer
from tests.fakes.slack import FakeMessage, FakeSlack
from tests.harness import PROMPTS, Harness, harness
from tests.slack.conftest import settings_for

DESK = "C_DESK"  # the escalation channel
AGENT = "U_AGENT"  # a person of the help desk
BOT_NAME = "Helpdesk"
FAST = StreamTiming(append_interval_s=0.05, edit_interval_s=0.2)
WAIT_S = 20.0
T = TypeVar("T")


@dataclass
class Desk:
    slack: FakeSlack
    llm: FakeLLMServer
    core: Harness
    adapter: SlackAdapter
    records: SqlHelpDesk
    url: str

    async def until(self, predicate: Callable[[], T]) -> T:
        """Wait for what the fake Slack shows, with a deadline roomy for a loaded machine."""
        return await self.slack.wait_for(predicate, timeout=WAIT_S)

    async def dm(self, body: str, **kwargs: Any) -> dict[str, Any]:
        payload = self.slack.dm(body, **kwargs)
        assert await self.slack.send_event(self.url, payload) == 200
        return payload

    async def tap(self, message: FakeMessage, action_id: str, user: str = "U_ALICE") -> None:
        [element] = [
            e
            for block in message.blocks
            if block.get("type") == "actions"
            for e in block["elements"]
            if e["action_id"] == action_id
        ]
        payload = self.slack.block_action(message, action_id, element.get("value", ""), user=user)
        assert await self.slack.send_interaction(self.url, payload) == 200

    def with_button(self, channel: str, action_id: str) -> list[FakeMessage]:
        shown = self.slack.bot_messages_anywhere(channel)  # a DM's reply threads included
        return [m for m in shown if action_id in action_ids(m)]


def action_ids(message: FakeMessage) -> list[str]:
    return [
        e["action_id"]
        for block in message.blocks
        if block.get("type") == "actions"
        for e in block["elements"]
    ]


def desk_flows(answering: Callable[[], Flow] | None = None) -> Callable[[SqlStore], FlowRegistry]:
    """The help desk's flows; `answering` stands in for the answering flow (a decline)."""

    def build(store: SqlStore) -> FlowRegistry:
        pinned = PinnedAnswers.load(PROMPTS)
        if answering is None:
            return default_flows(SqlHelpDesk(store), pinned, people=True)
        registry = FlowRegistry()
        registry.register(SupportDesk(answering(), SqlHelpDesk(store), pinned, people=True))
        registry.register(InterviewFlow())
        return registry

    return build


@asynccontextmanager
async def desk_bot(
    slack: FakeSlack,
    llm: FakeLLMServer,
    db_url: str,
    *,
    answering: Callable[[], Flow] | None = None,
    **settings: Any,
) -> AsyncIterator[Desk]:
    slack.add_user(AGENT, "Dana")
    slack.add_user(slack.bot_user_id, BOT_NAME, is_bot=True)
    values: dict[str, Any] = {"slack_escalation_channel": DESK, **settings}
    async with harness(llm.base_url, db_url, flows=desk_flows(answering)) as core:
        records = SqlHelpDesk(core.store)
        adapter = SlackAdapter(
            settings_for(slack, **values), core.engine, core.store, timing=FAST, help_desk=records
        )
        await adapter.start()
        http = HttpServer("127.0.0.1", 0, core.store, core.llm)
        http.add_routes(adapter.http_routes())
        await http.start()
        try:
            url = f"http://127.0.0.1:{http.port}/slack/events"
            yield Desk(slack, llm, core, adapter, records, url)
        finally:
            await core.engine.idle()
            await http.stop()
            await adapter.stop()
