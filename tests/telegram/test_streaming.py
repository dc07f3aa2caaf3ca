"""Rendering a turn: drafts in private chats, throttled edits in groups, final formatting."""

from __future__ import annotations

import itertools

from adapters.telegram import TelegramAdapter
from bot.domain import Button, Buttons, InputKind, TextDelta, TextDone, Thinking
from tests.fakes.scripted_engine import Pause, ScriptedEngine
from tests.fakes.telegram import FakeTelegram

BOT = "@fake_interview_bot"


def stream(*pieces: str, pause: float = 0.15) -> list[TextDelta | Pause]:
    steps: list[TextDelta | Pause] = []
    for piece in pieces:
        steps += [TextDelta(piece), Pause(pause)]
    return steps


async def test_private_chat_streams_drafts_then_one_formatted_message(
    tg: FakeTelegram, engine: ScriptedEngine, adapter: TelegramAdapter
) -> None:
    pieces = ["Thanks", " for", " **your**", " answer.", " Next", " question?"]
    engine.script = lambda _: [Thinking(), Pause(0.7), *stream(*pieces), TextDone("".join(pieces))]

    await tg.send_text(601, 601, "I like Python")
    await tg.wait_for(lambda: len(tg.bot_texts(601)) == 1)

    typing = tg.calls_to("sendChatAction", 601)
    drafts = tg.drafts(601)
    assert len(typing) >= 2, "typing is repeated while waiting for the first token"
    assert typing[0].at < drafts[0].at
    assert len(drafts) >= 3 and len({d.draft_id for d in drafts}) == 1 and drafts[0].draft_id
    assert drafts[-1].text.startswith("Thanks for") and "**" in drafts[-1].text  # plain text
    sends = tg.calls_to("sendMessage", 601)
    assert len(sends) == 1 and sends[0].params["parse_mode"] == "HTML"
    assert sends[0].params["text"] == "Thanks for <b>your</b> answer. Next question?"
    assert tg.bot_texts(601) == ["Thanks for your answer. Next question?"]
    assert not tg.calls_to("editMessageText")


async def test_group_streams_by_edits_at_most_once_a_second_and_never_a_no_op(
    tg: FakeTelegram, engine: ScriptedEngine, adapter: TelegramAdapter
) -> None:
    words = [f" word{n}" for n in range(30)]
    final = "**Answer:**" + "".join(words)
    engine.script = lambda _: [
        Thinking(),
        TextDelta("**Answer:**"),
        *stream(*words, pause=0.1),
        Pause(1.2),
        TextDone(final),
    ]

    await tg.send_text(-700, 71, f"{BOT} tell me", chat_type="supergroup")
    await tg.wait_for(lambda: tg.bot_texts(-700) == ["Answer:" + "".join(words)], timeout=15)

    calls = [
        c for c in tg.calls if c.chat_id == -700 and c.method in ("sendMessage", "editMessageText")
    ]
    assert next(c.method for c in calls) == "sendMessage"
    edits = [c for c in calls if c.method == "editMessageText"]
    assert len(edits) >= 2
    gaps = [later.at - earlier.at for earlier, later in itertools.pairwise(calls)]
    assert min(gaps) >= 0.95, gaps
    assert all(c.status == 200 for c in calls), "no edit that changes nothing, no flood error"
    assert edits[-1].params["parse_mode"] == "HTML" and "<b>Answer:</b>" in edits[-1].params["text"]
    assert not tg.calls_to("sendMessageDraft")


async def test_long_reply_is_split_into_messages_under_the_limit(
    tg: FakeTelegram, engine: ScriptedEngine, adapter: TelegramAdapter
) -> None:
    paragraphs = [f"Paragraph {n}. " + "All good here." * 60 for n in range(12)]
    final = "\n\n".join(paragraphs)
    assert len(final) > 2 * 4096
    engine.script = lambda _: [
        TextDelta(final[:5000]),
        Pause(0.2),
        TextDelta(final[5000:]),
        TextDone(final),
    ]

    await tg.send_text(602, 602, "talk a lot")
    await tg.wait_for(lambda: len(tg.bot_texts(602)) == 3)

    texts = tg.bot_texts(602)
    assert all(len(text) <= 4096 for text in texts)
    assert all(text.startswith("Paragraph") for text in texts), "split at paragraphs"
    assert "\n\n".join(texts) == final


async def test_refused_html_falls_back_to_plain_text(
    tg: FakeTelegram, engine: ScriptedEngine, adapter: TelegramAdapter
) -> None:
    engine.script = lambda _: [TextDone("Use **bold** and `code` <here>")]
    tg.inject(
        "sendMessage",
        status=400,
        retry_after=None,
        description="Bad Request: can't parse entities: Unsupported start tag",
    )

    await tg.send_text(603, 603, "format please")
    await tg.wait_for(lambda: tg.bot_texts(603))

    assert tg.bot_texts(603) == ["Use **bold** and `code` <here>"]
    last = tg.calls_to("sendMessage", 603)[-1]
    assert "parse_mode" not in last.params


async def test_html_is_escaped_so_telegram_accepts_it(
    tg: FakeTelegram, engine: ScriptedEngine, adapter: TelegramAdapter
) -> None:
    engine.script = lambda _: [TextDone("if a < b && c > d:\n```\nx = '<b>'\n```")]

    await tg.send_text(604, 604, "code")
    await tg.wait_for(lambda: tg.bot_texts(604))

    assert [c.status for c in tg.calls_to("sendMessage", 604)] == [200]
    assert tg.bot_texts(604) == ["if a < b && c > d:\nx = '<b>'"]


async def test_flood_errors_while_streaming_lose_no_text(
    tg: FakeTelegram, engine: ScriptedEngine, adapter: TelegramAdapter
) -> None:
    words = [f" w{n}" for n in range(12)]
    engine.script = lambda _: [*stream(*words, pause=0.1), TextDone("".join(words).strip())]
    tg.inject("sendMessage", status=429, retry_after=1, times=1)
    tg.inject("editMessageText", status=429, retry_after=1, times=2)

    await tg.send_text(-701, 72, f"{BOT} go", chat_type="group")
    await tg.wait_for(lambda: tg.bot_texts(-701) == ["".join(words).strip()], timeout=15)

    statuses = [c.status for c in tg.calls if c.chat_id == -701 and c.method != "sendChatAction"]
    assert statuses.count(429) == 3


async def test_flood_and_server_errors_on_the_final_message_are_retried(
    tg: FakeTelegram, engine: ScriptedEngine, adapter: TelegramAdapter
) -> None:
    engine.script = lambda _: [*stream("Hello", " again"), TextDone("Hello again")]
    tg.inject("sendMessage", status=429, retry_after=1, times=1)
    tg.inject("sendMessage", status=502, retry_after=None, times=2)

    await tg.send_text(605, 605, "hi")
    await tg.wait_for(lambda: tg.bot_texts(605) == ["Hello again"])

    assert [c.status for c in tg.calls_to("sendMessage", 605)] == [429, 502, 502, 200]


async def test_a_blocked_bot_raises_delivery_blocked_and_stops(
    tg: FakeTelegram, engine: ScriptedEngine, adapter: TelegramAdapter
) -> None:
    engine.script = lambda _: [Thinking(), Pause(0.5), *stream("one", " two"), TextDone("one two")]
    await tg.send_text(606, 606, "hi")  # the chat exists
    await tg.wait_for(lambda: tg.calls_to("sendChatAction", 606))
    tg.block(606)

    await tg.wait_for(lambda: engine.render_errors)

    from bot.errors import DeliveryBlocked

    assert isinstance(engine.render_errors[0], DeliveryBlocked)
    refused = [c for c in tg.calls if c.chat_id == 606 and c.status == 403]
    assert len(refused) <= 3, "no retrying against a block"
    assert not tg.bot_texts(606)


async def test_buttons_become_an_inline_keyboard_and_taps_come_back(
    tg: FakeTelegram, engine: ScriptedEngine, adapter: TelegramAdapter
) -> None:
    choices = (Button("Backend engineer", "role", "backend"), Button("Designer", "role", "design"))
    engine.script = lambda incoming: (
        [Buttons("Which position?", choices)]
        if incoming.kind is InputKind.START
        else [TextDone(f"picked {incoming.action_id}={incoming.text}")]
    )
    await tg.send_text(607, 607, "/start")
    await tg.wait_for(lambda: tg.bot_texts(607))
    prompt = tg.transcript(607)[-1]
    assert prompt.text == "Which position?"
    labels = [label for label, _ in prompt.buttons]
    assert labels == ["Backend engineer", "Designer"]

    query_id = await tg.tap(607, 607, prompt.message_id, prompt.buttons[1][1])
    await tg.wait_for(lambda: len(tg.bot_texts(607)) == 2)

    assert query_id in tg.callbacks_answered
    tap = engine.submitted[-1]
    assert (tap.kind, tap.action_id, tap.text) == (InputKind.ACTION, "role", "design")
    assert tg.bot_texts(607)[-1] == "picked role=design"
