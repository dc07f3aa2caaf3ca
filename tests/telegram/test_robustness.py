"""Redeliveries, non-text input, edits, bursts of messages, and who is answered in groups."""

from __future__ import annotations

from adapters.telegram import TelegramAdapter
from bot.domain import InputKind, Message, TextDone
from tests.fakes.scripted_engine import Pause, ScriptedEngine
from tests.fakes.telegram import FakeTelegram

BOT = "@fake_interview_bot"


async def test_a_redelivered_update_is_not_submitted_twice(
    tg: FakeTelegram, engine: ScriptedEngine, adapter: TelegramAdapter
) -> None:
    update_id = await tg.send_text(801, 801, "once")
    await tg.wait_for(lambda: tg.bot_texts(801))
    await tg.redeliver(update_id)
    await tg.send_text(801, 801, "twice")
    await tg.wait_for(lambda: len(engine.submitted) == 2)
    await tg.wait_for(lambda: len(tg.bot_texts(801)) == 2)

    assert [i.text for i in engine.submitted] == ["once", "twice"]
    assert tg.bot_texts(801) == ["echo: text once", "echo: text twice"]


async def test_media_become_unsupported_inputs(
    tg: FakeTelegram, engine: ScriptedEngine, adapter: TelegramAdapter
) -> None:
    for kind in ("photo", "voice", "sticker", "document", "video"):
        await tg.send_media(802, 802, kind)
    await tg.wait_for(lambda: len(engine.submitted) == 5)

    # a voice note is a voice answer and a document a résumé (issue 12): each a stored
    # reference to its file
    kinds = {i.action_id.split("|")[0] or "": i.kind for i in engine.submitted}
    assert sorted(i.kind for i in engine.submitted) == sorted(
        [InputKind.UNSUPPORTED] * 3 + [InputKind.VOICE, InputKind.DOCUMENT]
    )
    assert kinds["audio"] is InputKind.VOICE
    assert kinds["document"] is InputKind.DOCUMENT
    assert all(i.event_id for i in engine.submitted)


async def test_edited_messages_are_ignored(
    tg: FakeTelegram, engine: ScriptedEngine, adapter: TelegramAdapter
) -> None:
    await tg.send_text(803, 803, "frist answer")
    await tg.wait_for(lambda: tg.bot_texts(803))
    await tg.edit_text(803, 803, 1, "first answer")
    await tg.send_text(803, 803, "next")
    await tg.wait_for(lambda: len(engine.submitted) == 2)

    assert [i.text for i in engine.submitted] == ["frist answer", "next"]


async def test_messages_written_while_answering_are_answered_in_order(
    tg: FakeTelegram, engine: ScriptedEngine, adapter: TelegramAdapter
) -> None:
    engine.script = lambda incoming: [Pause(0.3), TextDone(f"re: {incoming.text}")]
    for text in ("one", "two", "three"):
        await tg.send_text(804, 804, text)
    await tg.wait_for(lambda: len(tg.bot_texts(804)) == 3)

    assert tg.bot_texts(804) == ["re: one", "re: two", "re: three"]


async def test_in_groups_only_mentions_replies_and_addressed_commands_are_answered(
    tg: FakeTelegram, engine: ScriptedEngine, adapter: TelegramAdapter
) -> None:
    group = -805
    await tg.send_text(group, 81, "just chatting", chat_type="group")
    await tg.send_text(group, 81, "/help@some_other_bot", chat_type="group")
    await tg.send_text(group, 81, "/help", chat_type="group")
    await tg.send_text(group, 81, f"{BOT} what is the salary?", chat_type="group")
    await tg.wait_for(lambda: len(tg.bot_texts(group)) == 1)
    bot_message = tg.transcript(group)[-1].message_id
    await tg.send_text(
        group, 82, "and the hours?", chat_type="group", reply_to_message_id=bot_message
    )
    await tg.send_text(group, 81, f"/lang@{BOT[1:]} zh", chat_type="group")
    await tg.wait_for(lambda: len(engine.submitted) == 3)
    await tg.send_text(group, 81, "still chatting", chat_type="group")
    await tg.wait_for(lambda: not tg.pending_updates())

    assert [(i.kind, i.text) for i in engine.submitted] == [
        (InputKind.TEXT, "what is the salary?"),
        (InputKind.TEXT, "and the hours?"),
        (InputKind.COMMAND, "lang zh"),
    ]
    asker = engine.submitted[1].key
    assert (asker.chat_id, asker.user_id) == (str(group), "82")


async def test_every_callback_query_is_answered_even_for_unknown_buttons(
    tg: FakeTelegram, engine: ScriptedEngine, adapter: TelegramAdapter
) -> None:
    engine.script = lambda _: [Message("ok")]
    await tg.send_text(806, 806, "hi")
    await tg.wait_for(lambda: tg.bot_texts(806))
    message_id = tg.transcript(806)[-1].message_id

    query_id = await tg.tap(806, 806, message_id, "#0123456789abcdef")  # from before a restart
    await tg.wait_for(lambda: query_id in tg.callbacks_answered)

    assert len(engine.submitted) == 1
