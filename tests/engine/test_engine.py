"""The engine's promises: dedupe, order, bad input, outages; through the real store and
the real LLM client against the scripted server."""

from __future__ import annotations

import asyncio
import itertools

from bot.domain import InputKind, Message, TextDelta, TextDone, Thinking
from bot.store.api import MessageStatus, Role
from bot.texts import text
from tests.fakes.llm_server import Answer, FakeLLMServer
from tests.harness import Harness


async def stored(bot: Harness) -> list[tuple[str, str, str]]:
    conversation = await bot.store.active_conversation(bot.key)
    assert conversation is not None
    history = await bot.store.history(conversation.id)
    return [(m.role.value, m.kind, m.text) for m in history]


async def test_a_reply_streams_and_is_stored_with_usage(
    bot: Harness, llm_server: FakeLLMServer
) -> None:
    llm_server.enqueue(Answer(text="Open the VPN app and click Reset.", cached_tokens=7))
    await bot.send("how do I reset my VPN password?")
    _, outputs = bot.seen.turns[-1]
    assert isinstance(outputs[0], Thinking)
    deltas = [o.text for o in outputs if isinstance(o, TextDelta)]
    assert len(deltas) > 3 and "".join(deltas) == "Open the VPN app and click Reset."
    assert isinstance(outputs[-1], TextDone)
    assert await stored(bot) == [
        ("user", "text", "how do I reset my VPN password?"),
        ("assistant", "text", "Open the VPN app and click Reset."),
    ]
    body = llm_server.requests[-1]
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert body["_headers"]["x-session-id"].startswith("conversation-")


async def test_duplicate_platform_event_gets_one_reply(
    bot: Harness, llm_server: FakeLLMServer
) -> None:
    llm_server.enqueue("Only once.")
    first = await bot.send("hello", event_id="update-1")
    second = await bot.send("hello", event_id="update-1")
    assert first.accepted and not second.accepted
    assert bot.seen.texts() == ["Only once."]
    assert len(llm_server.requests) == 1


async def test_concurrent_duplicates_race_to_one_reply(
    bot: Harness, llm_server: FakeLLMServer
) -> None:
    llm_server.enqueue("Only once.")
    receipts = await asyncio.gather(
        *(bot.engine.submit(bot.incoming("hi", event_id="evt-9")) for _ in range(5))
    )
    await asyncio.gather(*(r.wait() for r in receipts))
    assert sum(r.accepted for r in receipts) == 1
    assert bot.seen.texts() == ["Only once."]


async def test_messages_sent_at_once_are_answered_in_order(
    bot: Harness, llm_server: FakeLLMServer
) -> None:
    llm_server.enqueue(
        Answer(text="first answer", ttft=0.2), Answer(text="second answer"), "third answer"
    )
    receipts = [await bot.engine.submit(bot.incoming(f"question {i}")) for i in (1, 2, 3)]
    await asyncio.gather(*(r.wait() for r in receipts))
    assert bot.seen.texts() == ["first answer", "second answer", "third answer"]
    asked = [body["messages"][-1]["content"] for body in llm_server.requests]
    assert asked == ["question 1", "question 2", "question 3"]
    # the second turn saw the first one in its history: one turn at a time
    assert [m["content"] for m in llm_server.requests[1]["messages"][1:]] == [
        "question 1",
        "first answer",
        "question 2",
    ]


async def test_prompt_prefix_is_identical_across_turns(
    bot: Harness, llm_server: FakeLLMServer
) -> None:
    llm_server.enqueue("one", "two", "three")
    for question in ("a", "b", "c"):
        await bot.send(question)
    prompts = [body["messages"] for body in llm_server.requests]
    for earlier, later in itertools.pairwise(prompts):
        assert later[: len(earlier)] == earlier


async def test_reasoning_never_reaches_the_user(bot: Harness, llm_server: FakeLLMServer) -> None:
    llm_server.enqueue(
        Answer(
            text="Use the portal.",
            reasoning="The user wants secret chain",
            reasoning_field="reasoning",
        ),
        Answer(text="Sure.", reasoning="more private thoughts"),
    )
    await bot.send("q1")
    await bot.send("q2")
    seen = " ".join(bot.seen.texts() + bot.seen.deltas())
    assert "secret" not in seen and "private" not in seen
    assert bot.seen.texts() == ["Use the portal.", "Sure."]


async def test_bad_input_gets_a_clear_answer_and_loses_nothing(
    bot: Harness, llm_server: FakeLLMServer
) -> None:
    llm_server.enqueue("Hello Alice.")
    await bot.send("hello")
    await bot.send("   ")
    await bot.send("x" * 100_000)
    await bot.send("caf\udce9 \x00\x01\x02\x03")  # bytes that were not UTF-8, and NULs
    texts = bot.seen.texts()
    assert texts[0] == "Hello Alice."
    assert texts[1] == text("input_empty")
    assert texts[2] == text("input_too_long", limit=8000)
    assert texts[3] == text("input_binary")
    assert len(llm_server.requests) == 1  # none of them reached the model
    history = await stored(bot)
    assert history[:2] == [("user", "text", "hello"), ("assistant", "text", "Hello Alice.")]
    conversation = await bot.store.active_conversation(bot.key)
    assert conversation is not None
    assert await bot.store.pending_messages(conversation.id) == []


async def test_unsupported_input_and_unknown_command(bot: Harness) -> None:
    await bot.send(kind=InputKind.UNSUPPORTED)
    await bot.send("frobnicate now", kind=InputKind.COMMAND)
    assert bot.seen.texts() == [
        text("input_unsupported"),
        text("unknown_command", command="frobnicate"),
    ]


async def test_outage_keeps_the_message_and_answers_when_back(
    bot: Harness, llm_server: FakeLLMServer
) -> None:
    llm_server.healthy = False
    receipt = await bot.engine.submit(bot.incoming("is the printer on floor 3 broken?"))
    await bot.seen.wait_for(lambda: bool(bot.seen.texts()))
    assert bot.seen.texts() == [text("llm_unavailable")]
    assert not receipt.done.done()
    conversation = await bot.store.active_conversation(bot.key)
    assert conversation is not None
    pending = await bot.store.pending_messages(conversation.id)
    assert [m.text for m in pending] == ["is the printer on floor 3 broken?"]
    llm_server.default = Answer(text="Yes, a technician is on the way.")
    llm_server.healthy = True
    await asyncio.wait_for(receipt.wait(), 10)
    assert bot.seen.texts() == [text("llm_unavailable"), "Yes, a technician is on the way."]
    assert (await stored(bot))[-1] == ("assistant", "text", "Yes, a technician is on the way.")


async def test_stream_cut_midway_is_retried_from_the_saved_message(
    bot: Harness, llm_server: FakeLLMServer
) -> None:
    llm_server.enqueue(Answer(text="partial answer that gets cut", disconnect_after=2))
    llm_server.default = Answer(text="The full answer.")
    receipt = await bot.engine.submit(bot.incoming("question"))
    await asyncio.wait_for(receipt.wait(), 10)
    assert bot.seen.texts()[-1] == "The full answer."
    assert (await stored(bot))[-2:] == [
        ("user", "text", "question"),
        ("assistant", "text", "The full answer."),
    ]


async def test_cancel_with_confirmation_closes_the_conversation(
    bot: Harness, llm_server: FakeLLMServer
) -> None:
    await bot.send("cancel", kind=InputKind.COMMAND)
    await bot.send("no", kind=InputKind.ACTION, action_id="cmd:cancel")
    assert await bot.store.active_conversation(bot.key) is not None
    await bot.send("cancel", kind=InputKind.COMMAND)
    await bot.send("yes", kind=InputKind.ACTION, action_id="cmd:cancel")
    assert await bot.store.active_conversation(bot.key) is None
    assert bot.seen.texts()[-1] == text("cancel_done")


async def test_lang_command_switches_language(bot: Harness) -> None:
    await bot.send("lang zh", kind=InputKind.COMMAND)
    await bot.send("help", kind=InputKind.COMMAND)
    assert bot.seen.texts() == [text("lang_set", "zh"), text("support_help", "zh")]


async def test_history_roles_are_stored(bot: Harness, llm_server: FakeLLMServer) -> None:
    llm_server.enqueue("ok")
    await bot.send("hi")
    conversation = await bot.store.active_conversation(bot.key)
    assert conversation is not None
    roles = [m.role for m in await bot.store.history(conversation.id)]
    assert roles == [Role.USER, Role.ASSISTANT]
    assert all(m.status != MessageStatus.PENDING for m in await bot.store.history(conversation.id))


async def test_notify_speaks_first_stores_it_and_can_close(
    bot: Harness, llm_server: FakeLLMServer
) -> None:
    from bot.store.api import ConversationStatus

    llm_server.enqueue("hi")
    await bot.send("hello")
    conversation = await bot.store.active_conversation(bot.key)
    assert conversation is not None
    await bot.engine.notify(conversation.id, [Message("A reminder.")])
    assert bot.seen.texts()[-1] == "A reminder."
    assert (await stored(bot))[-1] == ("assistant", "text", "A reminder.")
    await bot.engine.notify(conversation.id, [Message("Closed.")], ConversationStatus.EXPIRED)
    assert (await bot.store.get_conversation(conversation.id)).status is ConversationStatus.EXPIRED


async def test_export_gives_a_person_their_own_data(
    bot: Harness, llm_server: FakeLLMServer
) -> None:
    llm_server.enqueue("Sure, here is how.")
    await bot.send("How do I book a meeting room?")
    await bot.send("export", kind=InputKind.COMMAND)
    reply = bot.seen.texts()[-1]
    assert reply.startswith(text("export_ready"))
    assert "How do I book a meeting room?" in reply and "Sure, here is how." in reply
    assert any(entry.event == "export" for entry in await bot.store.audit_log())
