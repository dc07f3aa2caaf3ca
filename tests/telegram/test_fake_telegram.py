"""The fake Bot API itself, through python-telegram-bot's Bot: Telegram's errors and limits."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from telegram import Bot
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter

import adapters.telegram  # noqa: F401 - sets PTB_TIMEDELTA before RetryAfter is read
from tests.fakes.telegram import FakeTelegram


@pytest.fixture
async def bot(tg: FakeTelegram) -> AsyncIterator[Bot]:
    async with Bot(tg.token, base_url=f"{tg.base_url}/bot") as client:
        await tg.send_text(11, 11, "hi")  # the chat exists
        await tg.send_text(-12, 11, f"@{tg.bot_username} hi", chat_type="group")
        yield client


async def test_get_me_names_the_bot(tg: FakeTelegram, bot: Bot) -> None:
    assert (bot.id, bot.username) == (tg.bot_id, tg.bot_username)


async def test_edit_rules_not_modified_and_length(tg: FakeTelegram, bot: Bot) -> None:
    tg.limits.enabled = False  # this test is about the edit rules, not flood control
    message = await bot.send_message(11, "hello")
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text("hello", 11, message.message_id)
    with pytest.raises(BadRequest, match=r"(?i)too long"):
        await bot.edit_message_text("x" * 4097, 11, message.message_id)
    await bot.edit_message_text("<b>hello</b>", 11, message.message_id, parse_mode=ParseMode.HTML)
    assert tg.transcript(11)[-1].text == "hello" and tg.transcript(11)[-1].edit_count == 1


@pytest.mark.parametrize(
    ("text", "mode"),
    [
        ("<b>open", ParseMode.HTML),
        ("<blink>x</blink>", ParseMode.HTML),
        ("a < b", ParseMode.HTML),
        ("&nbsp;", ParseMode.HTML),
        ("*half", ParseMode.MARKDOWN_V2),
    ],
)
async def test_broken_markup_cannot_be_parsed(bot: Bot, text: str, mode: str) -> None:
    with pytest.raises(BadRequest, match=r"(?i)can.t parse entities"):
        await bot.send_message(11, text, parse_mode=mode)


async def test_drafts_only_in_private_chats(tg: FakeTelegram, bot: Bot) -> None:
    assert await bot.send_message_draft(11, 7, "thinking")
    with pytest.raises(BadRequest):
        await bot.send_message_draft(-12, 7, "thinking")
    assert [(d.draft_id, d.text) for d in tg.drafts(11)] == [(7, "thinking")]


async def test_flood_limit_answers_429_with_retry_after(tg: FakeTelegram, bot: Bot) -> None:
    for n in range(3):  # the burst
        await bot.send_message(11, f"m{n}")
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(11, "one too many")
    assert caught.value.retry_after.total_seconds() == 1  # type: ignore[union-attr]
    assert tg.calls_to("sendMessage")[-1].status == 429


async def test_injected_faults_and_blocks(tg: FakeTelegram, bot: Bot) -> None:
    tg.inject("sendMessage", status=503, retry_after=None, times=1)
    with pytest.raises(NetworkError):
        await bot.send_message(11, "a")
    await bot.send_message(11, "b")
    tg.block(11)
    with pytest.raises(Forbidden):
        await bot.send_message(11, "c")
    assert [c.status for c in tg.calls_to("sendMessage", 11)] == [503, 200, 403]
