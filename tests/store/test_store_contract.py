"""The Store contract, run against every backend (see conftest: SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from datetime import UTC, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text
from sqlalchemy.exc import StatementError

from bot.domain import ConversationKey, InputKind, Platform, UserRef, utcnow
from bot.store import connect
from bot.store.api import (
    ConversationStatus,
    MessageStatus,
    NewEvaluation,
    NewReply,
    Role,
    TurnCommit,
)
from bot.store.erasure import user_hash
from bot.store.models import Base, include_name
from bot.store.sql import SqlStore
from tests.store.conftest import Backend

ALICE = UserRef(Platform.TELEGRAM, "alice-4711", "Alice", "en")
BOB = UserRef(Platform.SLACK, "U-bob-0815", "Bob")
KEY = ConversationKey.user_in_chat(Platform.TELEGRAM, "chat-1", "alice-4711")


def evaluation(**data: object) -> NewEvaluation:
    return NewEvaluation("ok", dict(data), "raw model output", "model-x", "v1", "role-v2")


async def started(
    store: SqlStore, user: UserRef = ALICE, key: ConversationKey = KEY
) -> tuple[int, int]:
    user_id = await store.ensure_user(user)
    conversation = await store.create_conversation(key, user_id, "interview", {"step": 0})
    return user_id, conversation.id


# ---- schema ---------------------------------------------------------------------------


async def test_upgrade_is_idempotent_and_matches_the_models(backend: Backend) -> None:
    store = backend.store
    user_id, _ = await started(store)
    await store.upgrade()
    await store.upgrade()
    assert (await store.get_user(user_id)).display_name == "Alice"

    def differences(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"include_name": include_name})
        return list(compare_metadata(context, Base.metadata))

    async with backend.inspector.connect() as connection:
        assert await connection.run_sync(differences) == []
        version = await connection.execute(text("SELECT version_num FROM alembic_version"))
        assert version.scalar_one() == ScriptDirectory(str(connect.MIGRATIONS)).get_current_head()


async def test_ping(store: SqlStore) -> None:
    assert await store.ping() is True


async def test_ping_is_false_when_the_database_is_unreachable() -> None:
    unreachable = SqlStore("postgresql+asyncpg://postgres:secret@127.0.0.1:1/none")
    try:
        assert await unreachable.ping() is False
    finally:
        await unreachable.close()


# ---- users and events -----------------------------------------------------------------


async def test_ensure_user_is_idempotent_and_keeps_the_latest_name(store: SqlStore) -> None:
    first = await store.ensure_user(ALICE)
    assert await store.ensure_user(ALICE) == first
    assert await store.ensure_user(UserRef(Platform.TELEGRAM, "alice-4711")) == first
    renamed = await store.ensure_user(UserRef(Platform.TELEGRAM, "alice-4711", "Alice B.", "de"))
    assert renamed == first
    user = await store.get_user(first)
    assert (user.display_name, user.locale, user.platform) == ("Alice B.", "de", Platform.TELEGRAM)
    # The same id on another platform is another person.
    assert await store.ensure_user(UserRef(Platform.SLACK, "alice-4711")) != first


async def test_concurrent_ensure_user_creates_one_row(backend: Backend) -> None:
    ids = await asyncio.gather(*(backend.store.ensure_user(BOB) for _ in range(5)))
    assert len(set(ids)) == 1
    assert await backend.count("users") == 1


async def test_duplicate_events_are_stored_once(store: SqlStore) -> None:
    _, conversation_id = await started(store)
    event = (Platform.TELEGRAM, "update-1")
    assert await store.event_seen(*event) is False
    first = await store.record_user_message(conversation_id, kind="text", text="hi", event=event)
    assert first is not None and first.status is MessageStatus.PENDING
    assert await store.event_seen(*event) is True
    again = await store.record_user_message(conversation_id, kind="text", text="hi", event=event)
    assert again is None
    # The same event id on another platform is another event.
    assert await store.event_seen(Platform.SLACK, "update-1") is False
    assert [m.id for m in await store.pending_messages(conversation_id)] == [first.id]


async def test_concurrent_duplicate_events_exactly_one_succeeds(store: SqlStore) -> None:
    _, conversation_id = await started(store)
    results = await asyncio.gather(
        *(
            store.record_user_message(
                conversation_id, kind="text", text=f"copy {n}", event=(Platform.SLACK, "Ev-1")
            )
            for n in range(6)
        )
    )
    stored = [r for r in results if r is not None]
    assert len(stored) == 1
    assert [m.id for m in await store.pending_messages(conversation_id)] == [stored[0].id]


# ---- conversations --------------------------------------------------------------------


async def test_create_conversation_supersedes_the_active_one(store: SqlStore) -> None:
    user_id, old_id = await started(store)
    other_key = ConversationKey.thread(Platform.SLACK, "C1", "1700.1")
    other = await store.create_conversation(other_key, None, "support", {})
    new = await store.create_conversation(KEY, user_id, "support", {"lang": "en"})
    assert (await store.get_conversation(old_id)).status is ConversationStatus.SUPERSEDED
    active = await store.active_conversation(KEY)
    assert active is not None and active.id == new.id
    assert (active.key, active.flow, active.state, active.user_id) == (
        KEY,
        "support",
        {"lang": "en"},
        user_id,
    )
    # Another key is untouched.
    assert (await store.get_conversation(other.id)).status is ConversationStatus.ACTIVE
    assert (await store.active_conversation(other_key)) == other


async def test_no_active_conversation_once_finished(store: SqlStore) -> None:
    _, conversation_id = await started(store)
    await store.set_conversation_status(conversation_id, ConversationStatus.CANCELLED)
    assert await store.active_conversation(KEY) is None
    assert await store.active_conversation(ConversationKey(Platform.CONSOLE, "nobody")) is None
    with pytest.raises(LookupError):
        await store.get_conversation(10_000)


async def test_list_conversations_by_flow_and_status(store: SqlStore) -> None:
    _, interview = await started(store)
    support = await store.create_conversation(
        ConversationKey.thread(Platform.SLACK, "C1", "1"), None, "support", {}
    )
    await store.set_conversation_status(support.id, ConversationStatus.FINISHED)
    assert [c.id for c in await store.list_conversations()] == [interview, support.id]
    assert [c.id for c in await store.list_conversations(flow="interview")] == [interview]
    finished = await store.list_conversations(statuses=(ConversationStatus.FINISHED,))
    assert [c.id for c in finished] == [support.id]


# ---- messages and turns ---------------------------------------------------------------


async def test_pending_messages_in_order_and_conversations_with_pending(store: SqlStore) -> None:
    user_id, conversation_id = await started(store)
    sent = []
    for n in range(3):
        message = await store.record_user_message(
            conversation_id, kind=InputKind.TEXT, text=f"m{n}", user_id=user_id
        )
        assert message is not None
        sent.append(message.id)
    action = await store.record_user_message(
        conversation_id, kind=InputKind.ACTION, text="yes", action_id="confirm"
    )
    assert action is not None and action.action_id == "confirm" and action.role is Role.USER
    pending = await store.pending_messages(conversation_id)
    assert [m.id for m in pending] == [*sent, action.id]
    assert [m.text for m in pending] == ["m0", "m1", "m2", "yes"]
    assert await store.conversations_with_pending() == [conversation_id]

    await store.mark_message(sent[0], MessageStatus.REJECTED)
    assert [m.id for m in await store.pending_messages(conversation_id)] == [*sent[1:], action.id]
    # Pending messages of a conversation that is no longer active are not work to do.
    await store.set_conversation_status(conversation_id, ConversationStatus.BLOCKED)
    assert await store.conversations_with_pending() == []


async def test_commit_turn_writes_everything_and_history_is_ordered(backend: Backend) -> None:
    store = backend.store
    _, conversation_id = await started(store)
    first = await store.record_user_message(conversation_id, kind="text", text="question 1")
    assert first is not None
    reply = NewReply("answer 1", "model-x", "v1", 10, 5, 2, 30, 120)
    assert (
        await store.commit_turn(
            TurnCommit(conversation_id, [first.id], {"step": 1}, replies=[reply])
        )
        is None
    )
    second = await store.record_user_message(conversation_id, kind="text", text="question 2")
    assert second is not None
    # Pending messages are not history yet.
    assert [m.text for m in await store.history(conversation_id)] == ["question 1", "answer 1"]

    evaluation_id = await store.commit_turn(
        TurnCommit(
            conversation_id,
            [second.id],
            {"step": 2},
            ConversationStatus.FINISHED,
            [NewReply("answer 2a"), NewReply("answer 2b")],
            evaluation(score=4),
        )
    )
    assert evaluation_id is not None
    history = await store.history(conversation_id)
    assert [(m.role, m.text) for m in history] == [
        (Role.USER, "question 1"),
        (Role.ASSISTANT, "answer 1"),
        (Role.USER, "question 2"),
        (Role.ASSISTANT, "answer 2a"),
        (Role.ASSISTANT, "answer 2b"),
    ]
    assert [m.status for m in history] == [MessageStatus.ANSWERED, MessageStatus.SENT] * 2 + [
        MessageStatus.SENT
    ]
    conversation = await store.get_conversation(conversation_id)
    assert (conversation.state, conversation.status) == ({"step": 2}, ConversationStatus.FINISHED)
    stored = await store.get_evaluation(evaluation_id)
    assert (stored.data, stored.model, stored.prompt_version, stored.role_version) == (
        {"score": 4},
        "model-x",
        "v1",
        "role-v2",
    )
    assert [e.id for e in await store.evaluations_for(conversation_id)] == [evaluation_id]
    audit = await store.audit_log()
    assert audit[0].event == "evaluation" and audit[0].details["evaluation_id"] == evaluation_id
    async with backend.inspector.connect() as connection:
        usage = await connection.execute(
            text(
                "SELECT prompt_tokens, completion_tokens, cached_tokens, ttft_ms, latency_ms, model FROM messages WHERE text = 'answer 1'"
            )
        )
        assert tuple(usage.one()) == (10, 5, 2, 30, 120, "model-x")


async def test_commit_turn_is_all_or_nothing(backend: Backend) -> None:
    store = backend.store
    _, conversation_id = await started(store)
    message = await store.record_user_message(conversation_id, kind="text", text="q")
    assert message is not None
    broken = NewEvaluation("ok", {"not json": object()}, "", "m", "v1")
    with pytest.raises((StatementError, TypeError)):
        await store.commit_turn(
            TurnCommit(
                conversation_id,
                [message.id],
                {"step": 9},
                replies=[NewReply("a")],
                evaluation=broken,
            )
        )
    # Nothing of the failed turn was written: no reply, message still pending, state as before.
    assert await store.history(conversation_id) == []
    assert [m.id for m in await store.pending_messages(conversation_id)] == [message.id]
    assert (await store.get_conversation(conversation_id)).state == {"step": 0}
    assert await backend.count("evaluations") == 0
    with pytest.raises(LookupError):
        await store.commit_turn(TurnCommit(10_000, [], {}))


# ---- locks ----------------------------------------------------------------------------


async def test_conversation_lock_excludes_a_second_holder(backend: Backend) -> None:
    store = backend.store
    if backend.name == "sqlite":
        # One process owns a SQLite database: the lock is a no-op and never waits.
        async with store.conversation_lock(1), store.conversation_lock(1):
            pass
        return
    events: list[str] = []
    first_holds, release_first = asyncio.Event(), asyncio.Event()

    async def first() -> None:
        async with store.conversation_lock(1):
            events.append("first in")
            first_holds.set()
            await release_first.wait()
            events.append("first out")

    async def second() -> None:
        await first_holds.wait()
        async with other.conversation_lock(1):
            events.append("second in")

    other = SqlStore(backend.url, schema=backend.schema)  # another process's store
    try:
        async with asyncio.timeout(10):
            tasks = [asyncio.create_task(first()), asyncio.create_task(second())]
            await first_holds.wait()
            await asyncio.sleep(0.2)  # the other process tries, and retries, meanwhile
            # Another conversation's lock is free meanwhile.
            async with store.conversation_lock(2):
                events.append("other conversation")
            assert "second in" not in events
            release_first.set()
            await asyncio.gather(*tasks)
    finally:
        await other.close()
    assert events == ["first in", "other conversation", "first out", "second in"]


# ---- hiring ---------------------------------------------------------------------------


async def test_invitation_is_single_use(store: SqlStore) -> None:
    alice = await store.ensure_user(ALICE)
    created = await store.create_invitation("tok-1", "backend", "Alice Example", "U-recruiter")
    assert created.used_at is None
    with pytest.raises(ValueError):
        await store.create_invitation("tok-1", "backend", "Someone", "U-recruiter")
    used = await store.use_invitation("tok-1", alice)
    assert used is not None and used.used_by_user_id == alice and used.used_at is not None
    assert (used.role, used.candidate_name) == ("backend", "Alice Example")
    assert await store.use_invitation("tok-1", alice) is None
    assert await store.use_invitation("unknown", alice) is None


async def test_concurrent_invitation_use_exactly_one_wins(store: SqlStore) -> None:
    users = [await store.ensure_user(UserRef(Platform.SLACK, f"U{n}")) for n in range(5)]
    await store.create_invitation("tok-race", "backend", "X", "U-recruiter")
    results = await asyncio.gather(*(store.use_invitation("tok-race", u) for u in users))
    winners = [r for r in results if r is not None]
    assert len(winners) == 1 and winners[0].used_by_user_id in users


async def test_decisions_are_recorded_and_audited(store: SqlStore) -> None:
    _, conversation_id = await started(store)
    evaluation_id = await store.commit_turn(
        TurnCommit(conversation_id, [], {}, evaluation=evaluation())
    )
    assert evaluation_id is not None
    first = await store.record_decision(evaluation_id, "needs_review", "U-recruiter")
    second = await store.record_decision(evaluation_id, "advance", "U-lead")
    decided = await store.decisions(evaluation_id)
    assert decided == [first, second]
    assert [(d.decision, d.decided_by) for d in decided] == [
        ("needs_review", "U-recruiter"),
        ("advance", "U-lead"),
    ]
    latest = (await store.audit_log(limit=1))[0]
    assert (latest.event, latest.actor, latest.subject) == (
        "decision",
        "U-lead",
        f"evaluation:{evaluation_id}",
    )
    with pytest.raises(LookupError):
        await store.record_decision(10_000, "advance", "U-lead")


async def test_audit_log_newest_first(store: SqlStore) -> None:
    await store.audit(event="export", actor="U-admin", subject="all", details={"rows": 3})
    await store.audit(event="config", actor="U-admin", subject="x", details={})
    entries = await store.audit_log()
    assert [e.event for e in entries] == ["config", "export"]
    assert entries[1].details == {"rows": 3}


# ---- erasure and retention ------------------------------------------------------------


async def test_delete_user_data_leaves_only_a_tombstone(backend: Backend) -> None:
    store = backend.store
    alice, conversation_id = await started(store)
    bob = await store.ensure_user(BOB)
    await store.create_invitation("tok-a", "backend", "Alice Secretname", "U-recruiter")
    assert await store.use_invitation("tok-a", alice) is not None
    message = await store.record_user_message(
        conversation_id,
        kind="text",
        text="my SECRET answer",
        event=(Platform.TELEGRAM, "ev-a"),
        user_id=alice,
    )
    assert message is not None
    evaluation_id = await store.commit_turn(
        TurnCommit(
            conversation_id,
            [message.id],
            {"name": "Alice Secretname"},
            replies=[NewReply("noted, SECRET reply")],
            evaluation=NewEvaluation("ok", {"summary": "SECRET summary"}, "SECRET raw", "m", "v1"),
        )
    )
    assert evaluation_id is not None
    await store.record_decision(evaluation_id, "advance", "U-recruiter")
    await store.audit("export", actor="alice-4711", subject="alice-4711", details={})
    # Alice also wrote in Bob's shared thread; Bob's own words stay.
    thread = ConversationKey.thread(Platform.SLACK, "C1", "1700.2")
    shared = await store.create_conversation(thread, bob, "support", {})
    await store.record_user_message(
        shared.id, kind="text", text="SECRET in a thread", user_id=alice
    )
    await store.record_user_message(shared.id, kind="text", text="bob speaking", user_id=bob)

    await store.delete_user_data(alice, requested_by="self")

    remains = await backend.dump()
    for secret in ("SECRET", "Secretname", "alice-4711", "Alice"):
        assert secret not in remains, f"{secret!r} survived erasure:\n{remains}"
    assert "bob speaking" in remains
    hashed = user_hash(Platform.TELEGRAM.value, "alice-4711")
    async with backend.inspector.connect() as connection:
        tombstone = (
            await connection.execute(
                text("SELECT platform, user_hash, requested_by FROM tombstones")
            )
        ).one()
    assert tuple(tombstone) == ("telegram", hashed, "self")
    deletion = (await store.audit_log(limit=1))[0]
    assert (deletion.event, deletion.actor, deletion.subject) == ("deletion", "self", hashed)
    for table in ("conversations", "evaluations", "decisions"):
        assert await backend.count(table) == (1 if table == "conversations" else 0)
    assert await backend.count("users") == 1  # Bob
    # The event stays a duplicate after erasure (a redelivery must not recreate the message).
    assert await store.event_seen(Platform.TELEGRAM, "ev-a") is True
    with pytest.raises(LookupError):
        await store.get_user(alice)


async def test_purge_older_than_removes_old_conversations(backend: Backend) -> None:
    store = backend.store
    _, old_id = await started(store)
    message = await store.record_user_message(old_id, kind="text", text="old")
    assert message is not None
    evaluation_id = await store.commit_turn(
        TurnCommit(old_id, [message.id], {}, evaluation=evaluation())
    )
    assert evaluation_id is not None
    await store.record_decision(evaluation_id, "reject", "U-recruiter")
    cutoff = utcnow()
    recent = await store.create_conversation(
        ConversationKey.thread(Platform.SLACK, "C", "t"), None, "support", {}
    )

    assert await store.purge_older_than(cutoff) == 1
    assert [c.id for c in await store.list_conversations()] == [recent.id]
    for table in ("messages", "evaluations", "decisions"):
        assert await backend.count(table) == 0
    entry = (await store.audit_log(limit=1))[0]
    assert (entry.event, entry.details["conversations"]) == ("retention_purge", 1)
    assert await store.purge_older_than(cutoff - timedelta(days=1)) == 0


# ---- time -----------------------------------------------------------------------------


async def test_datetimes_are_utc_aware(store: SqlStore) -> None:
    before = utcnow()
    user_id, conversation_id = await started(store)
    message = await store.record_user_message(conversation_id, kind="text", text="t")
    assert message is not None
    evaluation_id = await store.commit_turn(
        TurnCommit(conversation_id, [message.id], {}, evaluation=evaluation())
    )
    assert evaluation_id is not None
    await store.create_invitation("tok-t", "r", "n", "c")
    used = await store.use_invitation("tok-t", user_id)
    assert used is not None and used.used_at is not None
    stamps = [
        (await store.get_user(user_id)).created_at,
        (await store.get_conversation(conversation_id)).created_at,
        (await store.get_conversation(conversation_id)).updated_at,
        (await store.history(conversation_id))[0].created_at,
        (await store.get_evaluation(evaluation_id)).created_at,
        (await store.record_decision(evaluation_id, "advance", "U")).decided_at,
        (await store.decisions(evaluation_id))[0].decided_at,
        (await store.audit_log())[0].at,
        used.used_at,
    ]
    for stamp in stamps:
        assert stamp.tzinfo is not None and stamp.utcoffset() == timedelta(0)
        assert before - timedelta(seconds=1) <= stamp <= utcnow()
    assert stamps[0].astimezone(UTC) == stamps[0]
