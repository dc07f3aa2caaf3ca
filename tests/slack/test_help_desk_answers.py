"""The help desk's answers over the real slack-bolt app and the fake Slack, with the real
engine and store: buttons on every answer, a decline offering a person, thumbs-down
stored and offering a person, pinned answers without the model, the bot's mention
stripped, a sign of work before the first token, notices in the writer's language."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, ClassVar

import pytest

from adapters.slack.events import strip_mention
from bot import metrics
from bot.domain import Button, Buttons, FlowStart, Message, UserRef
from bot.flows.base import FlowEvent, FlowState, TurnContext, UserInput
from bot.flows.support import SupportFlow
from bot.prompts import PromptLibrary
from bot.texts import text
from tests.fakes.llm_server import Answer, FakeLLMServer
from tests.fakes.slack import FakeSlack
from tests.slack.desk_live import Desk, action_ids, desk_bot

REPLY = "Open the self-service portal and choose Reset password [1]."
DECLINE = "I could not find this in the handbook."
ANSWER_BUTTONS = ["flow:support:feedback:up", "flow:support:feedback:down", "flow:support:human"]


class DecliningFlow:
    """Stands in for the answering flow (bot/flows/support.py) when nothing is found: it
    declines and offers a person itself, as the knowledge base's answers do."""

    name: ClassVar[str] = "support"
    state_type: ClassVar[type[FlowState]] = SupportFlow.state_type

    def new_state(self, start: FlowStart, user: UserRef, prompts: PromptLibrary) -> FlowState:
        return SupportFlow().new_state(start, user, prompts)

    async def on_start(self, ctx: TurnContext, state: Any) -> AsyncIterator[FlowEvent]:
        yield Message("hi")

    async def on_input(
        self, ctx: TurnContext, state: Any, user_input: UserInput
    ) -> AsyncIterator[FlowEvent]:
        yield Buttons(DECLINE, (Button("Talk to a person", "support:human"),))  # as the kb does

    def help_text(self, ctx: TurnContext, state: Any) -> str:
        return "help"


@pytest.fixture
async def desk(slack: FakeSlack, llm_server: FakeLLMServer, db_url: str) -> AsyncIterator[Desk]:
    async with desk_bot(slack, llm_server, db_url) as built:
        yield built


def texts_in(desk: Desk, channel: str, thread_ts: str | None = None) -> list[str]:
    if thread_ts is None and channel.startswith("D"):  # a DM: inline or in reply threads
        return [m.text for m in desk.slack.bot_messages_anywhere(channel)]
    return [m.text for m in desk.slack.bot_messages(channel, thread_ts)]


async def test_an_answer_comes_with_feedback_and_a_person(desk: Desk) -> None:
    desk.llm.enqueue(Answer(text=REPLY, token_delay=0.01))
    await desk.dm("How do I reset my password?")
    [buttons] = await desk.until(lambda: desk.with_button("D_ALICE", "flow:support:feedback:up"))
    assert action_ids(buttons) == ANSWER_BUTTONS
    assert texts_in(desk, "D_ALICE")[0] == REPLY
    conversation = await desk.core.store.list_conversations()
    answer = await desk.records.last_answer(conversation[0].id)
    assert answer is not None and answer.outcome == "answered" and answer.cited
    values = {e["value"] for b in buttons.blocks if b["type"] == "actions" for e in b["elements"]}
    assert values == {str(answer.id)}  # each button knows the answer it is about
    exposed = metrics.exposition().decode()
    assert 'chatbot_help_answers_total{outcome="answered"}' in exposed
    assert "chatbot_help_answers_cited_ratio" in exposed


async def test_thumbs_down_is_stored_and_offers_a_person(desk: Desk) -> None:
    desk.llm.enqueue(Answer(text=REPLY))
    await desk.dm("How do I reset my password?")
    [buttons] = await desk.until(lambda: desk.with_button("D_ALICE", "flow:support:feedback:down"))
    await desk.tap(buttons, "flow:support:feedback:down")
    [offer] = await desk.until(
        lambda: [m for m in desk.with_button("D_ALICE", "flow:support:human") if m is not buttons]
    )
    assert offer.text == text("desk_thanks_down") and action_ids(offer) == ["flow:support:human"]
    counts = await desk.records.help_desk_counts()
    assert (counts.feedback_down, counts.feedback_up) == (1, 0)
    [line] = await desk.records.help_desk_report()
    assert (line.question, line.thumbs_down) == ("How do I reset my password?", 1)
    assert len(desk.llm.requests) == 1  # feedback is not a question for the model


async def test_a_decline_offers_a_person_and_is_reported(
    slack: FakeSlack, llm_server: FakeLLMServer, db_url: str
) -> None:
    async with desk_bot(slack, llm_server, db_url, answering=DecliningFlow) as desk:
        await desk.dm("What is the wifi password on Mars?")
        [offer] = await desk.until(lambda: desk.with_button("D_ALICE", "flow:support:human"))
        await desk.core.engine.idle()
        assert DECLINE in texts_in(desk, "D_ALICE")
        assert not desk.with_button("D_ALICE", "flow:support:feedback:up")  # nothing to rate
        [line] = await desk.records.help_desk_report()
        assert (line.question, line.outcome) == ("What is the wifi password on Mars?", "declined")
        await desk.tap(offer, "flow:support:human")
        await desk.until(lambda: desk.with_button("C_DESK", "helpdesk:resolve"))


@pytest.mark.parametrize(
    ("question", "lang"),
    [("how do I report a phishing email", "en"), ("请问如何举报钓鱼邮件", "zh")],
)
async def test_a_pinned_answer_is_served_without_the_model(
    desk: Desk, question: str, lang: str
) -> None:
    await desk.dm(question)
    await desk.until(lambda: desk.with_button("D_ALICE", "flow:support:feedback:up"))
    reply = texts_in(desk, "D_ALICE")[0]
    assert reply.startswith(text("desk_pinned_label", lang))
    assert "https://intranet.example.com/security/phishing" in reply
    assert desk.llm.requests == []  # the fake model saw nothing


async def test_a_near_miss_is_not_pinned(desk: Desk) -> None:
    desk.llm.enqueue(Answer(text=REPLY))
    await desk.dm("How do I report a phishing website?")
    await desk.until(lambda: REPLY in texts_in(desk, "D_ALICE"))
    assert len(desk.llm.requests) == 1


async def test_the_inline_placeholder_comes_before_the_first_token(
    slack: FakeSlack, llm_server: FakeLLMServer, db_url: str
) -> None:
    async with desk_bot(slack, llm_server, db_url, slack_dm_replies="inline") as desk:
        desk.llm.enqueue(Answer(text=REPLY, ttft=0.5))
        await desk.dm("How do I reset my password?")
        await desk.until(lambda: REPLY in texts_in(desk, "D_ALICE"))
        calls = [c for c in desk.slack.calls if c.params.get("channel") == "D_ALICE"]
        first = calls[0]
        assert first.method == "chat.postMessage"
        assert first.params["markdown_text"] == text("slack_placeholder")
        # the placeholder became the reply: one message, not two
        assert desk.slack.bot_messages("D_ALICE")[0].text == REPLY
        assert all(c.method == "chat.update" for c in calls[1:] if REPLY[:10] in str(c.params))


async def test_the_sign_of_work_comes_before_the_first_token(desk: Desk) -> None:
    desk.llm.enqueue(Answer(text=REPLY, ttft=0.5))
    payload = await desk.dm("How do I reset my password?")
    ts = payload["event"]["ts"]
    await desk.until(lambda: REPLY in texts_in(desk, "D_ALICE", ts))
    in_dm = [c.method for c in desk.slack.calls if c.params.get("thread_ts") == ts]
    assert in_dm.index("assistant.threads.setStatus") < in_dm.index("chat.startStream")
    assert desk.slack.assistant_thread("D_ALICE", ts).statuses[0] == "is thinking..."

    desk.llm.enqueue(Answer(text=REPLY, ttft=0.5))
    _, mention = desk.slack.mention("is the VPN down?")
    assert await desk.slack.send_event(desk.url, mention) == 200
    thread_ts = mention["event"]["ts"]
    await desk.until(lambda: REPLY in texts_in(desk, "C_GENERAL", thread_ts))
    in_thread = [c.method for c in desk.slack.calls if c.params.get("thread_ts") == thread_ts]
    assert in_thread.index("assistant.threads.setStatus") < in_thread.index("chat.startStream")
    assert desk.slack.assistant_thread("C_GENERAL", thread_ts).statuses[0] == "is thinking..."


@pytest.mark.parametrize(
    "written",
    [
        "<@U0BOT> where is the VPN guide?",
        "where is the VPN guide? <@U0BOT>",
        "where is <@U0BOT|helpdesk> the VPN guide?",
        "@Helpdesk where is the VPN guide?",
        "where is the VPN guide? @helpdesk",
        "hey ＠Helpdesk: where is the VPN guide?",
    ],
)
def test_the_bots_mention_is_stripped_however_written(written: str) -> None:
    stripped = strip_mention(written, "U0BOT", ("helpdesk_bot", "Helpdesk"))
    assert stripped.removeprefix("hey ") == "where is the VPN guide?"


def test_other_mentions_and_words_stay() -> None:
    assert strip_mention("ask <@U0BOB> or @Helpdesker", "U0BOT", ("Helpdesk",)) == (
        "ask <@U0BOB> or @Helpdesker"
    )
    assert strip_mention("email helpdesk@example.com", "U0BOT", ("Helpdesk",)) == (
        "email helpdesk@example.com"
    )


async def test_plain_text_mentions_do_not_reach_the_model(desk: Desk) -> None:
    desk.llm.enqueue(Answer(text=REPLY))
    await desk.dm("@Helpdesk how do I reset my password?")
    await desk.until(lambda: REPLY in texts_in(desk, "D_ALICE"))
    assert desk.llm.requests[-1]["messages"][-1]["content"] == "how do I reset my password?"

    desk.llm.enqueue(Answer(text=REPLY))
    _, mention = desk.slack.mention("x")
    mention["event"]["text"] = f"is the VPN down <@{desk.slack.bot_user_id}|helpdesk>?"
    assert await desk.slack.send_event(desk.url, mention) == 200
    thread_ts = mention["event"]["ts"]
    await desk.until(lambda: REPLY in texts_in(desk, "C_GENERAL", thread_ts))
    assert desk.llm.requests[-1]["messages"][-1]["content"] == "is the VPN down ?"


async def test_notices_answer_in_the_language_written(desk: Desk) -> None:
    await desk.dm("请" * 8001)  # too long: refused, in Chinese though Slack gives no locale
    expected = text("input_too_long", "zh", limit=8000)
    await desk.until(lambda: expected in texts_in(desk, "D_ALICE"))
    await desk.dm("/nonsense 这是什么")
    await desk.until(
        lambda: text("unknown_command", "zh", command="nonsense") in texts_in(desk, "D_ALICE")
    )
