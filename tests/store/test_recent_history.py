"""The prompt's history: newest first with a limit, rejected input never in it; on every
backend, with the index that makes the limit cheap."""

from __future__ import annotations

from sqlalchemy import Connection, inspect

from bot.domain import InputKind
from bot.store.api import MessageStatus, NewReply, TurnCommit
from bot.store.sql import SqlStore
from tests.store.conftest import Backend
from tests.store.test_store_contract import started


async def answer(store: SqlStore, conversation_id: int, kind: str, body: str, reply: str) -> int:
    message = await store.record_user_message(conversation_id, kind=kind, text=body)
    assert message is not None
    await store.commit_turn(
        TurnCommit(conversation_id, [message.id], {}, replies=[NewReply(reply)])
    )
    return message.id


async def test_recent_history_is_the_newest_part_without_rejected_input(store: SqlStore) -> None:
    _, conversation_id = await started(store)
    for turn in range(6):
        await answer(store, conversation_id, "text", f"question {turn}", f"answer {turn}")
    rejected = await store.record_user_message(conversation_id, kind="too_long", text="x" * 9000)
    assert rejected is not None
    await store.commit_turn(
        TurnCommit(
            conversation_id,
            [],
            {},
            replies=[NewReply("too long")],
            rejected_message_ids=[rejected.id],
        )
    )
    await answer(store, conversation_id, InputKind.COMMAND.value, "help", "the help text")
    await answer(store, conversation_id, "text", "question 6", "answer 6")
    await store.record_user_message(conversation_id, kind="text", text="still pending")

    recent = await store.recent_history(conversation_id, 5)
    assert [(m.role.value, m.text) for m in recent] == [
        ("assistant", "answer 5"),
        ("assistant", "too long"),
        ("assistant", "the help text"),
        ("user", "question 6"),
        ("assistant", "answer 6"),
    ]
    texts = [m.text for m in await store.recent_history(conversation_id, 100)]
    assert texts[:2] == ["question 0", "answer 0"] and texts[-1] == "answer 6"
    assert "x" * 9000 not in texts and "help" not in texts and "still pending" not in texts
    assert len(texts) == 6 * 2 + 1 + 1 + 2  # questions and answers, two notices, the last turn
    statuses = {m.status for m in await store.recent_history(conversation_id, 100)}
    assert statuses <= {MessageStatus.ANSWERED, MessageStatus.SENT}
    assert rejected.id not in {m.id for m in await store.history(conversation_id)}


async def test_the_history_index_exists(backend: Backend) -> None:
    def indexes(connection: Connection) -> list[list[str]]:
        found = inspect(connection).get_indexes("messages", schema=backend.schema)
        return [list(index["column_names"]) for index in found]

    async with backend.inspector.connect() as connection:
        assert ["conversation_id", "id"] in await connection.run_sync(indexes)
