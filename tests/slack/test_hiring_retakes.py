"""A refused retake shows in `/interview status`, through the real slack-bolt app over the
fake Slack, with the engine deciding the start."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.domain import InputKind
from bot.store.api import ConversationStatus
from bot.texts import text
from tests.fakes.llm_server import FakeLLMServer
from tests.fakes.slack import FakeSlack
from tests.hiring.live import MANAGER, Live, live_bot

ROLE = "python-backend"


@pytest.fixture
async def live(slack: FakeSlack, llm_server: FakeLLMServer, db_url: str) -> AsyncIterator[Live]:
    async with live_bot(slack, llm_server, db_url) as built:
        yield built


async def status_text(live: Live) -> str:
    _, command = await live.slack.send_command(live.url, "/interview", "status", user_id=MANAGER)
    [answer] = await live.slack.wait_for(lambda: live.slack.responses_to(command))
    return str(answer["text"])


async def test_a_refused_retake_is_listed_in_status(live: Live) -> None:
    bot = live.core
    assert text("hiring_status_retakes") not in await status_text(live)
    await bot.send(kind=InputKind.START, flow="interview", params={"role": ROLE})
    await bot.send("accept", kind=InputKind.ACTION, action_id="consent", flow="interview")
    taken = await bot.store.active_conversation(bot.key)
    assert taken is not None
    await bot.store.set_conversation_status(taken.id, ConversationStatus.FINISHED)

    await bot.send(kind=InputKind.START, flow="interview", params={"role": ROLE})
    assert bot.seen.texts()[-1] == text("interview_retake_refused")

    body = await status_text(live)
    assert text("hiring_status_retakes") in body
    line = next(li for li in body.splitlines() if "retake refused" in li)
    assert line.startswith("• Alice · Python backend developer · retake refused, allowed from")
    assert "or with a new invitation" in line
