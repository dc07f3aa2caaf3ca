"""Turn checkpoints (bot.store.checkpoints) on both databases: saved once per key, dropped
by the turn that stores a good evaluation, kept by a failed one, gone with the conversation."""

from __future__ import annotations

from datetime import timedelta

from bot.domain import ConversationKey, Platform, utcnow
from bot.store.api import NewEvaluation, TurnCommit
from bot.store.checkpoints import SqlCheckpoints
from bot.store.sql import SqlStore
from tests.store.conftest import Backend


async def conversation(store: SqlStore, user: str = "ada") -> int:
    key = ConversationKey.user_in_chat(Platform.CONSOLE, "chat", user)
    return (await store.create_conversation(key, None, "interview", {})).id


def commit(conversation_id: int, status: str) -> TurnCommit:
    return TurnCommit(
        conversation_id,
        [],
        {},
        evaluation=NewEvaluation(status, {} if status == "failed" else {"ok": 1}, "", "m", "v"),
    )


async def test_a_checkpoint_is_found_again_and_saved_once(store: SqlStore) -> None:
    checkpoints = SqlCheckpoints(store)
    first, second = await conversation(store), await conversation(store, "bob")
    mine = checkpoints.of(first)
    assert await mine.load("k") is None
    await mine.save("k", {"question": {"id": "q1", "score": 4.0}})
    await mine.save("k", {"question": {"id": "q1", "score": 2.0}})  # the same key, once
    assert await mine.load("k") == {"question": {"id": "q1", "score": 4.0}}
    assert await checkpoints.of(second).load("k") is None  # per conversation


async def test_a_good_evaluation_takes_the_checkpoints_a_failed_one_keeps_them(
    store: SqlStore, backend: Backend
) -> None:
    checkpoints = SqlCheckpoints(store)
    conversation_id = await conversation(store)
    await checkpoints.of(conversation_id).save("q1", {"question": {}})
    await store.commit_turn(commit(conversation_id, "failed"))
    assert await checkpoints.of(conversation_id).load("q1") == {"question": {}}
    await store.commit_turn(commit(conversation_id, "ok"))
    assert await checkpoints.of(conversation_id).load("q1") is None
    assert await backend.count("turn_checkpoints") == 0


async def test_checkpoints_go_with_their_conversation(store: SqlStore, backend: Backend) -> None:
    checkpoints = SqlCheckpoints(store)
    conversation_id = await conversation(store)
    await checkpoints.of(conversation_id).save("q1", {"question": {}})
    assert await store.purge_older_than(utcnow() + timedelta(days=1)) >= 1
    assert await backend.count("turn_checkpoints") == 0
    # saving for a conversation that is gone keeps nothing and raises nothing
    await checkpoints.of(conversation_id).save("q2", {"question": {}})
    assert await backend.count("turn_checkpoints") == 0
