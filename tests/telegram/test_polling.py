"""The real python-telegram-bot client, long polling the fake Bot API."""

from __future__ import annotations

from adapters.telegram import TelegramAdapter
from bot.domain import FlowStart, InputKind, Platform
from tests.fakes.scripted_engine import ScriptedEngine
from tests.fakes.telegram import FakeTelegram


async def test_polling_delivers_a_message_and_the_reply(
    tg: FakeTelegram, engine: ScriptedEngine, adapter: TelegramAdapter
) -> None:
    await tg.send_text(501, 501, "hello there", first_name="Ann", language_code="zh")

    await tg.wait_for(lambda: tg.bot_texts(501))

    assert [str(m) for m in tg.transcript(501)] == [
        "user: hello there",
        "bot: echo: text hello there",
    ]
    incoming = engine.submitted[0]
    assert incoming.kind is InputKind.TEXT
    assert incoming.key.platform is Platform.TELEGRAM
    assert (incoming.key.chat_id, incoming.key.user_id) == ("501", "501")
    assert (incoming.user.display_name, incoming.user.locale) == ("Ann", "zh")
    assert incoming.event_id is not None and int(incoming.event_id) >= 1000
    polls = tg.calls_to("getUpdates")
    assert polls and all(
        '"callback_query"' in str(call.params.get("allowed_updates")) for call in polls
    )
    await tg.wait_for(lambda: not tg.pending_updates())  # the update was confirmed


async def test_start_sets_the_command_menu_in_english_and_chinese(
    tg: FakeTelegram, adapter: TelegramAdapter
) -> None:
    names = [command["command"] for command in tg.commands[""]]
    assert names == ["start", "help", "cancel", "export", "delete", "lang"]
    assert tg.commands["zh"][0]["description"] == "开始面试"


async def test_commands_translate_to_start_and_command_inputs(
    tg: FakeTelegram, engine: ScriptedEngine, adapter: TelegramAdapter
) -> None:
    for text in ["/start inv-123", "/start", "/help", "/cancel", "/delete", "/lang zh"]:
        await tg.send_text(502, 502, text)
    await tg.wait_for(lambda: len(engine.submitted) == 6)

    first, second, *commands = engine.submitted
    assert first.kind is InputKind.START
    assert first.start == FlowStart("interview", {"invitation": "inv-123"})
    assert second.kind is InputKind.START and second.start == FlowStart("interview", {})
    assert [(c.kind, c.text) for c in commands] == [
        (InputKind.COMMAND, "help"),
        (InputKind.COMMAND, "cancel"),
        (InputKind.COMMAND, "delete"),
        (InputKind.COMMAND, "lang zh"),
    ]
