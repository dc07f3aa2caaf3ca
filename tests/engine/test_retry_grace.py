"""The retry loop's grace period: a message another process stored a moment ago is left to
it (it answers its own backlog); one pending longer than `retry_grace_s` (its process died)
is taken; a start-up takes every pending message. Two engines on one database (SQLite and
PostgreSQL), a clock the test sets: no sleeping, no timing."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta

import pytest

from bot.domain import utcnow
from bot.engine import EngineOptions
from bot.store.api import MessageRecord, MessageStatus
from tests.fakes.llm_server import FakeLLMServer
from tests.harness import Harness, harness
from tests.store.conftest import PG_URL

GRACE_S = 60.0
# No retry round by itself: the test calls `engine.retry()`, the loop's one round.
OPTIONS = EngineOptions(retry_interval_s=3600, retry_grace_s=GRACE_S)


class Clock:
    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, db_url: str) -> tuple[str, str | None]:
    if request.param == "sqlite":
        return db_url, None
    return PG_URL, f"test_grace_{uuid.uuid4().hex[:16]}"


@asynccontextmanager
async def engine(
    llm: FakeLLMServer, database: tuple[str, str | None], clock: Clock
) -> AsyncIterator[Harness]:
    async with harness(
        llm.base_url, database[0], schema=database[1], options=OPTIONS, clock=clock
    ) as bot:
        yield bot


async def stored_by_another_process(bot: Harness, text: str) -> MessageRecord:
    """What a process that died before its turn leaves: a pending message, nothing else."""
    user_id = await bot.store.ensure_user(bot.user)
    conversation = await bot.store.active_conversation(bot.key)
    if conversation is None:
        conversation = await bot.store.create_conversation(
            bot.key, user_id, "support", {"lang": "en"}
        )
    message = await bot.store.record_user_message(
        conversation.id, kind="text", text=text, user_id=user_id
    )
    assert message is not None
    return message


async def status_of(bot: Harness, message: MessageRecord) -> MessageStatus:
    pending = await bot.store.pending_messages(message.conversation_id)
    return (
        MessageStatus.PENDING if message.id in {m.id for m in pending} else MessageStatus.ANSWERED
    )


async def test_a_message_pending_less_than_the_grace_is_left_to_its_process(
    llm_server: FakeLLMServer, database: tuple[str, str | None]
) -> None:
    llm_server.enqueue("Reset it from the portal.")
    clock = Clock()
    async with engine(llm_server, database, clock) as other:
        message = await stored_by_another_process(other, "how do I reset my password?")
        clock.now = message.created_at + timedelta(seconds=GRACE_S - 1)
        await other.engine.retry()
        await other.engine.idle()
        assert await status_of(other, message) is MessageStatus.PENDING
        assert llm_server.requests == []
        assert other.seen.texts() == []

        clock.now = message.created_at + timedelta(seconds=GRACE_S + 1)
        await other.engine.retry()
        await other.engine.idle()
        assert await status_of(other, message) is MessageStatus.ANSWERED
        assert len(llm_server.requests) == 1
        assert other.seen.texts() == ["Reset it from the portal."]


async def test_start_up_takes_every_pending_message_whatever_its_age(
    llm_server: FakeLLMServer, database: tuple[str, str | None]
) -> None:
    llm_server.enqueue("Reset it from the portal.")
    clock = Clock()
    async with engine(llm_server, database, clock) as first:
        message = await stored_by_another_process(first, "how do I reset my password?")
    clock.now = message.created_at  # no time has passed: the grace is not what takes it
    async with engine(llm_server, database, clock) as restarted:  # start() resumes
        await restarted.engine.idle()
        assert await status_of(restarted, message) is MessageStatus.ANSWERED
        assert restarted.seen.texts() == ["Reset it from the portal."]
    assert len(llm_server.requests) == 1


async def test_a_receipt_resolves_when_another_process_answered_its_message(
    llm_server: FakeLLMServer, database: tuple[str, str | None]
) -> None:
    """Process A stores a message while its backend is down; B, starting, answers it; A's
    next retry round finds it answered and resolves A's receipt (no waiter is left)."""
    llm_server.enqueue("Reset it from the portal.")
    clock = Clock()
    async with FakeLLMServer() as down, engine(down, database, clock) as a:
        down.healthy = False
        receipt = await a.engine.submit(a.incoming("how do I reset my password?"))
        await a.engine.idle()
        assert receipt.conversation_id is not None and not receipt.done.done()
        [message] = await a.store.pending_messages(receipt.conversation_id)
        async with engine(llm_server, database, clock) as b:
            await b.engine.idle()
            assert b.seen.texts() == ["Reset it from the portal."]
        await a.engine.retry()  # A's own conversation, waiting for its backend
        await a.engine.idle()
        assert receipt.done.done()
        assert await status_of(a, message) is MessageStatus.ANSWERED
    assert len(llm_server.requests) == 1
