"""Conversation locks and the connection bound, on a real PostgreSQL: two SqlStores stand
for two processes (each has its own engines, so its own connections)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text

from bot.domain import ConversationKey, Platform
from bot.store import connect
from bot.store.api import ConversationStatus
from bot.store.sql import SqlStore
from tests.store.conftest import PG_URL, Backend


@pytest.fixture
async def schema() -> AsyncIterator[str]:
    name = f"test_locks_{uuid.uuid4().hex[:16]}"
    yield name
    admin = connect.create_engine(connect.parse_url(PG_URL), None)
    async with admin.begin() as connection:
        await connection.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
    await admin.dispose()


@pytest.fixture
async def stores(schema: str) -> AsyncIterator[tuple[SqlStore, SqlStore]]:
    first, second = SqlStore(PG_URL, schema=schema), SqlStore(PG_URL, schema=schema)
    await first.upgrade()
    try:
        yield first, second
    finally:
        await first.close()
        await second.close()


async def _scalar(sql: str, **params: object) -> int:
    admin = connect.create_engine(connect.parse_url(PG_URL), None)
    try:
        async with admin.connect() as connection:
            return int((await connection.execute(text(sql), params)).scalar_one())
    finally:
        await admin.dispose()


async def connections(schema: str) -> int:
    return await _scalar(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = :name",
        name=connect.application_name(schema),
    )


@pytest.mark.postgres
async def test_a_lock_held_by_one_process_makes_the_other_wait(
    stores: tuple[SqlStore, SqlStore],
) -> None:
    first, second = stores
    order: list[str] = []
    first_holds = asyncio.Event()

    async def holder() -> None:
        async with first.conversation_lock(7):
            first_holds.set()
            order.append("first in")
            await asyncio.sleep(0.3)  # long enough for the other to try several times
            order.append("first out")

    async def contender() -> None:
        await first_holds.wait()
        async with second.conversation_lock(7):
            order.append("second in")

    await asyncio.gather(holder(), contender())
    assert order == ["first in", "first out", "second in"]


@pytest.mark.postgres
async def test_many_locks_share_one_connection(
    stores: tuple[SqlStore, SqlStore], schema: str
) -> None:
    first, _ = stores
    held = asyncio.Event()
    release = asyncio.Event()
    count = 0

    async def hold(conversation_id: int) -> None:
        nonlocal count
        async with first.conversation_lock(conversation_id):
            count += 1
            if count == 50:
                held.set()
            await release.wait()

    tasks = [asyncio.create_task(hold(n)) for n in range(50)]
    await held.wait()
    locks = await _scalar("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")
    holders = await _scalar(
        "SELECT count(DISTINCT l.pid) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
        "WHERE l.locktype = 'advisory' AND a.application_name = :name",
        name=connect.application_name(schema),
    )
    release.set()
    await asyncio.gather(*tasks)
    assert locks >= 50
    assert holders == 1
    assert await connections(schema) <= 10


@pytest.mark.postgres
async def test_load_never_opens_more_connections_than_the_pool(schema: str) -> None:
    store = SqlStore(PG_URL, schema=schema, pool_size=3)
    await store.upgrade()
    try:
        key = ConversationKey.user_in_chat(Platform.CONSOLE, "c", "u")
        conversation = await store.create_conversation(key, None, "support", {})

        async def work(n: int) -> None:
            async with store.conversation_lock(n):
                await store.record_user_message(conversation.id, kind="text", text=f"m{n}")
                await store.pending_messages(conversation.id)

        await asyncio.gather(*(work(n) for n in range(200)))
        # Without overflow a pool never closes what it opened: what is open now is the peak.
        assert await connections(schema) <= 3
        assert len(await store.pending_messages(conversation.id)) == 200
    finally:
        await store.close()


@pytest.mark.postgres
async def test_a_killed_lock_connection_is_replaced_and_its_locks_retaken(
    stores: tuple[SqlStore, SqlStore], schema: str
) -> None:
    first, second = stores
    inside = asyncio.Event()
    release = asyncio.Event()

    async def holder() -> None:
        async with first.conversation_lock(1):
            inside.set()
            await release.wait()

    task = asyncio.create_task(holder())
    await inside.wait()
    await _kill_lock_connection(schema)
    # The next lock statement of this process notices, reconnects and takes lock 1 back
    # before the other process could: the test takes another lock to make it happen now.
    async with first.conversation_lock(2):
        pass
    got_it = asyncio.create_task(_take(second, 1))
    await asyncio.sleep(0.2)
    assert not got_it.done()  # still excluded
    release.set()
    await task
    await asyncio.wait_for(got_it, 5)


@pytest.mark.postgres
async def test_a_lock_lost_to_another_process_stops_the_turn(
    stores: tuple[SqlStore, SqlStore], schema: str
) -> None:
    first, second = stores
    inside = asyncio.Event()
    finished = False

    async def turn() -> None:
        nonlocal finished
        async with first.conversation_lock(1):
            inside.set()
            await asyncio.sleep(30)
            finished = True  # never: the turn is stopped before it can write

    task = asyncio.create_task(turn())
    await inside.wait()
    await _kill_lock_connection(schema)
    async with second.conversation_lock(1):  # free now: the other process takes it
        async with first.conversation_lock(2):  # first reconnects, cannot retake lock 1
            pass
        with pytest.raises(asyncio.CancelledError):
            await task
    assert not finished


async def _take(store: SqlStore, conversation_id: int) -> None:
    async with store.conversation_lock(conversation_id):
        pass


async def _kill_lock_connection(schema: str) -> None:
    killed = await _scalar(
        "SELECT count(pg_terminate_backend(l.pid)) FROM pg_locks l "
        "JOIN pg_stat_activity a ON a.pid = l.pid "
        "WHERE l.locktype = 'advisory' AND a.application_name = :name",
        name=connect.application_name(schema),
    )
    assert killed >= 1


async def test_two_processes_starting_the_same_conversation_share_one(
    backend: Backend,
) -> None:
    """Two first messages on one key, in two processes: one conversation, both in it."""
    other = SqlStore(backend.url, schema=backend.schema)
    key = ConversationKey.user_in_chat(Platform.CONSOLE, "chat", "newcomer")
    try:
        results = await asyncio.gather(
            *(
                store.create_conversation(key, None, "support", {}, supersede=False)
                for store in (backend.store, other) * 4
            )
        )
    finally:
        await other.close()
    active = [
        c
        for c in await backend.store.list_conversations(statuses=(ConversationStatus.ACTIVE,))
        if c.key == key
    ]
    assert len(active) == 1
    assert {r.id for r in results} == {active[0].id}


async def test_a_new_start_still_supersedes(backend: Backend) -> None:
    key = ConversationKey.user_in_chat(Platform.CONSOLE, "chat", "restarter")
    old = await backend.store.create_conversation(key, None, "support", {}, supersede=False)
    new = await backend.store.create_conversation(key, None, "interview", {})
    assert new.id != old.id
    assert (await backend.store.get_conversation(old.id)).status is ConversationStatus.SUPERSEDED
    assert (await backend.store.active_conversation(key)) == new
