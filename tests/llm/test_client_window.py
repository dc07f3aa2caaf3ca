"""Where the client's window comes from (the server, the configuration, a refusal), and that
a long prompt is fitted before it is sent, through the real SDK and the scripted server."""

from __future__ import annotations

import pytest

from bot.llm.client import OpenAICompatibleLLM
from bot.llm.types import ChatMessage, ContentDelta, StreamEvent
from tests.fakes.llm_server import Answer, FakeLLMServer

SYSTEM: ChatMessage = {"role": "system", "content": "You are the help desk."}


def long_prompt(turns: int = 60) -> list[ChatMessage]:
    messages = [SYSTEM]
    for turn in range(turns):
        messages.append({"role": "user", "content": f"question {turn} " + "q" * 300})
        messages.append({"role": "assistant", "content": f"answer {turn} " + "a" * 300})
    messages.append({"role": "user", "content": "the newest question"})
    return messages


async def reply(llm: OpenAICompatibleLLM, messages: list[ChatMessage]) -> str:
    events: list[StreamEvent] = [
        e async for e in llm.stream(messages, max_tokens=256, session_id="conversation-1")
    ]
    return "".join(e.text for e in events if isinstance(e, ContentDelta))


@pytest.mark.parametrize(
    ("reported", "configured", "window"),
    [(True, None, 2048), (False, 2048, 2048), (True, 1024, 1024)],
)
async def test_the_window_from_the_server_or_the_configuration_the_smaller_wins(
    reported: bool, configured: int | None, window: int
) -> None:
    async with FakeLLMServer(context_window=2048, report_window=reported) as server:
        server.default = Answer(text="fine")
        llm = OpenAICompatibleLLM(server.base_url, context_tokens=configured, max_retries=0)
        try:
            assert await reply(llm, long_prompt()) == "fine"
            assert llm.budget.window == window
        finally:
            await llm.close()
        sent = server.requests[-1]
        assert server.refused == 0
        assert server.prompt_tokens(sent) + sent["max_tokens"] <= window
        assert sent["messages"][0]["content"] == SYSTEM["content"]
        assert sent["messages"][-1]["content"] == "the newest question"


async def test_with_no_window_known_the_first_refusal_teaches_it() -> None:
    async with FakeLLMServer(context_window=2048, report_window=False) as server:
        server.default = Answer(text="fine")
        llm = OpenAICompatibleLLM(server.base_url, max_retries=0)
        try:
            assert await reply(llm, long_prompt()) == "fine"
            assert llm.budget.window == 2048  # read from the refusal's message
            assert server.refused == 1 and len(server.requests) == 2
            assert await reply(llm, long_prompt(61)) == "fine"
            assert server.refused == 1  # not again
        finally:
            await llm.close()


async def test_a_chinese_conversation_is_counted_per_character_and_fits() -> None:
    async with FakeLLMServer(context_window=2048) as server:
        server.default = Answer(text="好的")
        llm = OpenAICompatibleLLM(server.base_url, max_retries=0)
        messages: list[ChatMessage] = [SYSTEM]
        for turn in range(40):
            messages.append(
                {"role": "user", "content": f"问题{turn}：" + "我的电脑连不上网络" * 12}
            )
            messages.append({"role": "assistant", "content": "请重启路由器" * 10})
        messages.append({"role": "user", "content": "打印机也坏了"})
        try:
            assert await reply(llm, messages) == "好的"
        finally:
            await llm.close()
        sent = server.requests[-1]
        assert server.refused == 0
        assert server.prompt_tokens(sent) + sent["max_tokens"] <= 2048
        assert sent["messages"][-1]["content"] == "打印机也坏了"
        assert len(sent["messages"]) < len(messages)  # history was dropped to fit
