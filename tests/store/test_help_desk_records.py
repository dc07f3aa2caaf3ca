"""The help desk's records (bot.store.feedback) on every backend: answers, feedback,
hand-offs (status, audit, one open at a time, resolved once), counts and the report."""

from __future__ import annotations

from bot.domain import ConversationKey, Platform, UserRef
from bot.store.api import ConversationStatus, NewHelpAnswer
from bot.store.feedback import SqlHelpDesk
from bot.store.sql import SqlStore
from tests.store.conftest import Backend

KEY = ConversationKey.user_in_chat(Platform.SLACK, "D_ALICE", "U_ALICE")


async def support_conversation(store: SqlStore, key: ConversationKey = KEY) -> int:
    user_id = await store.ensure_user(UserRef(Platform.SLACK, key.user_id, "Alice"))
    return (await store.create_conversation(key, user_id, "support", {"lang": "en"})).id


async def test_feedback_is_stored_with_its_answer_and_the_last_rating_counts(
    store: SqlStore,
) -> None:
    desk = SqlHelpDesk(store)
    conversation_id = await support_conversation(store)
    sources = [{"title": "VPN", "source": "handbook/vpn.md", "text": "Use GlobalConnect."}]
    answer_id = await desk.record_answer(
        NewHelpAnswer(conversation_id, "vpn?", "Use GlobalConnect [1].", "answered", True, sources)
    )
    assert await desk.record_feedback(answer_id, conversation_id, "up", "U_ALICE")
    assert await desk.record_feedback(answer_id, conversation_id, "down", "U_ALICE")
    assert await desk.record_feedback(answer_id, conversation_id, "down", "U_BOB")
    # an answer of another conversation, or none: refused
    assert not await desk.record_feedback(answer_id, conversation_id + 1, "up", "U_ALICE")
    assert not await desk.record_feedback(answer_id + 99, conversation_id, "up", "U_ALICE")

    counts = await desk.help_desk_counts()
    assert (counts.answered, counts.cited, counts.feedback_up, counts.feedback_down) == (1, 1, 0, 2)
    last = await desk.last_answer(conversation_id)
    assert last is not None and last.id == answer_id and last.sources == sources
    [line] = await desk.help_desk_report()
    assert (line.question, line.outcome, line.thumbs_down) == ("vpn?", "answered", 2)


async def test_report_lists_declined_and_thumbs_down_only(store: SqlStore) -> None:
    desk = SqlHelpDesk(store)
    conversation_id = await support_conversation(store)
    good = await desk.record_answer(NewHelpAnswer(conversation_id, "good", "a [1]", "answered"))
    await desk.record_feedback(good, conversation_id, "up", "U_ALICE")
    await desk.record_answer(NewHelpAnswer(conversation_id, "no idea", "sorry", "declined"))
    await desk.record_answer(NewHelpAnswer(conversation_id, "pinned", "p", "pinned", True))
    report = await desk.help_desk_report()
    assert [(r.question, r.outcome) for r in report] == [("no idea", "declined")]
    counts = await desk.help_desk_counts()
    assert (counts.answered, counts.declined, counts.pinned, counts.cited) == (1, 1, 1, 0)


async def test_handoff_lifecycle_sets_the_status_and_is_audited(store: SqlStore) -> None:
    desk = SqlHelpDesk(store)
    conversation_id = await support_conversation(store)
    handoff = await desk.open_handoff(conversation_id, "U_ALICE", "my laptop is on fire")
    assert handoff is not None and handoff.status == "open"
    assert await desk.open_handoff(conversation_id, "U_ALICE", "again") is None  # one at a time
    conversation = await store.get_conversation(conversation_id)
    assert conversation.status is ConversationStatus.HANDED_OFF
    # still the conversation of its key: the next message belongs to it
    active = await store.active_conversation(KEY)
    assert active is not None and active.id == conversation_id

    await desk.set_handoff_thread(handoff.id, "C_DESK", "100.1")
    found = await desk.handoff_of_thread("C_DESK", "100.1")
    assert found is not None and found.id == handoff.id
    assert await desk.handoff_of_thread("C_DESK", "100.2") is None

    resolved = await desk.resolve_handoff(handoff.id, "U_AGENT")
    assert resolved is not None and resolved.resolved_by == "U_AGENT"
    assert await desk.resolve_handoff(handoff.id, "U_OTHER") is None  # pressed twice
    assert (await store.get_conversation(conversation_id)).status is ConversationStatus.ACTIVE
    assert await desk.handoff_of_conversation(conversation_id) is None
    events = [(e.event, e.actor) for e in await store.audit_log()]
    assert ("handoff", "U_ALICE") in events and ("handoff_resolved", "U_AGENT") in events
    assert (await desk.help_desk_counts()).escalated == 1


async def test_a_cancelled_handoff_gives_the_conversation_back(store: SqlStore) -> None:
    desk = SqlHelpDesk(store)
    conversation_id = await support_conversation(store)
    handoff = await desk.open_handoff(conversation_id, "U_ALICE", "q")
    assert handoff is not None
    await desk.cancel_handoff(handoff.id, "escalation post failed")
    assert (await store.get_conversation(conversation_id)).status is ConversationStatus.ACTIVE
    assert (await desk.help_desk_counts()).escalated == 0


async def test_erasure_removes_the_desk_rows(backend: Backend) -> None:
    store = backend.store
    desk = SqlHelpDesk(store)
    conversation_id = await support_conversation(store)
    answer_id = await desk.record_answer(
        NewHelpAnswer(conversation_id, "secret question", "a", "answered")
    )
    await desk.record_feedback(answer_id, conversation_id, "down", "U_ALICE")
    await desk.open_handoff(conversation_id, "U_ALICE", "secret question")
    user_id = (await store.get_conversation(conversation_id)).user_id
    assert user_id is not None
    await store.delete_user_data(user_id, requested_by="self")
    for table in ("help_answers", "help_feedback", "handoffs"):
        assert await backend.count(table) == 0
    assert "secret question" not in await backend.dump()
