"""Top-level DMs answered natively streamed in a thread under the message (the default,
BOT_SLACK_DM_REPLIES=thread), through the real slack-bolt app, engine, store and outbox:
the conversation stays the user's one DM conversation, in the thread and at top level."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, ClassVar

import pytest

from bot.domain import FlowStart, Source, Sources, TextDelta, TextDone, UserRef
from bot.flows.base import FlowEvent, FlowState, TurnContext, UserInput
from bot.flows.support import SupportFlow
from bot.prompts import PromptLibrary
from bot.store.api import DeliveryState
from tests.fakes.llm_server import Answer, FakeLLMServer
from tests.fakes.slack import FakeMessage, FakeSlack
from tests.hiring.live import Live, live_bot
from tests.slack.desk_live import action_ids, desk_bot

FIRST = "Open the VPN client and choose Lisbon as the gateway."
SECOND = "In Shenzhen the gateway is sz-gw-2."
THIRD = "Yes, the same password works for both."
WAIT_S = 20.0


def prompt_of(live: Live, n: int) -> str:
    """Everything the model was given in its `n`-th request, as one text."""
    return "\n".join(str(m["content"]) for m in live.llm.requests[n]["messages"])


def texts(slack: FakeSlack, thread_ts: str | None) -> list[tuple[str, bool]]:
    return [(m.text, m.streaming) for m in slack.bot_messages("D_ALICE", thread_ts)]


async def ask(live: Live, body: str, thread_ts: str | None = None) -> str:
    payload = live.slack.dm(body, thread_ts=thread_ts)
    assert await live.slack.send_event(live.url, payload) == 200
    return str(payload["event"]["ts"])


async def test_a_top_level_dm_is_streamed_in_its_thread_and_follow_ups_continue_it(
    slack: FakeSlack, llm_server: FakeLLMServer, db_url: str
) -> None:
    async with live_bot(slack, llm_server, db_url) as live:
        llm_server.enqueue(Answer(text=FIRST, token_delay=0.02))
        first = await ask(live, "How do I connect to the VPN in Lisbon?")
        await slack.wait_for(lambda: texts(slack, first) == [(FIRST, False)], timeout=WAIT_S)
        await live.core.engine.idle()
        [start] = slack.calls_to("chat.startStream")
        assert start.params["thread_ts"] == first
        assert len(slack.calls_to("chat.appendStream")) >= 1  # it arrived in pieces
        assert slack.bot_messages("D_ALICE") == []  # the main view holds the user's messages

        llm_server.enqueue(Answer(text=SECOND, token_delay=0.01))
        await ask(live, "and in Shenzhen?", thread_ts=first)  # typed in the reply thread
        await slack.wait_for(
            lambda: texts(slack, first) == [(FIRST, False), (SECOND, False)], timeout=WAIT_S
        )
        await live.core.engine.idle()
        assert "How do I connect to the VPN in Lisbon?" in prompt_of(live, 1)
        assert FIRST in prompt_of(live, 1)

        llm_server.enqueue(Answer(text=THIRD, token_delay=0.01))
        third = await ask(live, "does the same password work?")  # back at top level
        await slack.wait_for(lambda: texts(slack, third) == [(THIRD, False)], timeout=WAIT_S)
        await live.core.engine.idle()
        assert SECOND in prompt_of(live, 2) and "and in Shenzhen?" in prompt_of(live, 2)
        assert len(await live.core.store.list_conversations()) == 1
        assert slack.bot_messages("D_ALICE") == []
        assert await live.core.store.delivery_counts() == {
            DeliveryState.PENDING: 0,
            DeliveryState.FAILED: 0,
        }


async def test_a_reply_thread_continues_the_conversation_after_a_restart(
    slack: FakeSlack, llm_server: FakeLLMServer, db_url: str
) -> None:
    async with live_bot(slack, llm_server, db_url) as live:
        llm_server.enqueue(Answer(text=FIRST))
        first = await ask(live, "How do I connect to the VPN in Lisbon?")
        await slack.wait_for(lambda: texts(slack, first) == [(FIRST, False)], timeout=WAIT_S)
    # a new process: nothing in memory knows the thread; the stored message does
    async with live_bot(slack, llm_server, db_url) as live:
        llm_server.enqueue(Answer(text=SECOND))
        await ask(live, "and in Shenzhen?", thread_ts=first)
        await slack.wait_for(
            lambda: texts(slack, first) == [(FIRST, False), (SECOND, False)], timeout=WAIT_S
        )
        await live.core.engine.idle()
        assert FIRST in prompt_of(live, 1)
        assert len(await live.core.store.list_conversations()) == 1


async def test_an_assistant_panel_thread_stays_a_conversation_of_its_own(
    slack: FakeSlack, llm_server: FakeLLMServer, db_url: str
) -> None:
    async with live_bot(slack, llm_server, db_url) as live:
        llm_server.enqueue(Answer(text=FIRST))
        first = await ask(live, "How do I connect to the VPN in Lisbon?")
        await slack.wait_for(lambda: texts(slack, first) == [(FIRST, False)], timeout=WAIT_S)

        started = slack.assistant_thread_started()
        assert await slack.send_event(live.url, started) == 200
        panel = started["event"]["assistant_thread"]["thread_ts"]
        llm_server.enqueue(Answer(text=SECOND))
        await ask(live, "and in Shenzhen?", thread_ts=panel)
        await slack.wait_for(lambda: texts(slack, panel) == [(SECOND, False)], timeout=WAIT_S)
        await live.core.engine.idle()
        assert FIRST not in prompt_of(live, 1)  # a fresh conversation, without the DM's
        assert len(await live.core.store.list_conversations()) == 2
        assert texts(slack, first) == [(FIRST, False)]


@pytest.mark.parametrize("slack_options", [{"streaming_supported": False}])
async def test_a_refused_stream_falls_back_and_the_reply_shows_once(
    slack: FakeSlack, llm_server: FakeLLMServer, db_url: str
) -> None:
    async with live_bot(slack, llm_server, db_url) as live:
        llm_server.enqueue(Answer(text=FIRST, token_delay=0.02))
        first = await ask(live, "How do I connect to the VPN in Lisbon?")
        await slack.wait_for(lambda: texts(slack, first) == [(FIRST, False)], timeout=WAIT_S)
        await live.core.engine.idle()
        assert [c.error for c in slack.calls_to("chat.startStream")] == ["unknown_method"]
        assert [m.text for m in slack.bot_messages_anywhere("D_ALICE")] == [FIRST]

        # Slack will not stream for this app: later DMs are answered inline, as before
        llm_server.enqueue(Answer(text=SECOND))
        await ask(live, "and in Shenzhen?")
        await slack.wait_for(lambda: texts(slack, None) == [(SECOND, False)], timeout=WAIT_S)
        await live.core.engine.idle()
        assert len(slack.calls_to("chat.startStream")) == 1
        assert FIRST in prompt_of(live, 1)
        assert [m.text for m in slack.bot_messages_anywhere("D_ALICE")] == [FIRST, SECOND]


# ---- a grounded answer: its sources and buttons follow it into the thread --------------

GROUNDED = "Use the Lisbon gateway [1]."
GUIDE = Source(1, "VPN guide", "https://intranet.example.com/vpn")


class CitingFlow:
    """Stands in for the answering flow with a grounded answer: streamed text, then its
    sources, as the knowledge base's answers are (bot/flows/support.py)."""

    name: ClassVar[str] = "support"
    state_type: ClassVar[type[FlowState]] = SupportFlow.state_type

    def new_state(self, start: FlowStart, user: UserRef, prompts: PromptLibrary) -> FlowState:
        return SupportFlow().new_state(start, user, prompts)

    async def on_start(self, ctx: TurnContext, state: Any) -> AsyncIterator[FlowEvent]:
        yield TextDone("hi")

    async def on_input(
        self, ctx: TurnContext, state: Any, user_input: UserInput
    ) -> AsyncIterator[FlowEvent]:
        for word in GROUNDED.split(" "):
            yield TextDelta(word + " ")
        yield TextDone(GROUNDED)
        yield Sources((GUIDE,), "en")

    def help_text(self, ctx: TurnContext, state: Any) -> str:
        return "help"


async def test_sources_and_buttons_follow_the_answer_into_its_thread(
    slack: FakeSlack, llm_server: FakeLLMServer, db_url: str
) -> None:
    async with desk_bot(slack, llm_server, db_url, answering=CitingFlow) as desk:
        payload = await desk.dm("Which VPN gateway do I use?")
        thread = payload["event"]["ts"]

        def shown() -> list[FakeMessage]:
            return slack.bot_messages("D_ALICE", thread)

        await desk.until(lambda: len(shown()) == 3)
        await desk.core.engine.idle()
        answer, sources, buttons = shown()
        assert (answer.text, answer.streaming) == (GROUNDED, False)
        assert slack.calls_to("chat.startStream")[0].params["thread_ts"] == thread
        assert sources.blocks[0]["type"] == "context"
        assert "<https://intranet.example.com/vpn|[1] VPN guide>" in str(sources.blocks)
        assert "flow:support:human" in action_ids(buttons)
        assert "flow:support:feedback:down" in action_ids(buttons)
        assert slack.bot_messages("D_ALICE") == []

        await desk.tap(buttons, "flow:support:feedback:down")  # a tap in the thread
        await desk.until(lambda: len(shown()) == 4)
        assert "flow:support:human" in action_ids(shown()[-1])  # offered in the thread too
        assert len(await desk.core.store.list_conversations()) == 1
