"""The outbox: a turn is stored before its replies are delivered, delivery is retried with
backoff across restarts, and a re-run never repeats a delivered reply or the model call.
Real store (SQLite and PostgreSQL), real LLM client, the scripted LLM server; the platform
is a strict recording `Deliverer` that fails when told to."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from sqlalchemy import text as sql

from bot.domain import ConversationKey, Message, Output, Platform, TextDone
from bot.engine import EngineOptions
from bot.errors import DeliveryBlocked
from bot.metrics import DELIVERIES
from bot.ports import Deliverer, Delivery, Shown
from bot.store import connect
from bot.store.api import ConversationStatus, DeliveryState, MessageStatus
from tests.fakes.llm_server import FakeLLMServer
from tests.harness import Harness, harness
from tests.store.conftest import PG_URL

OPTIONS = EngineOptions(retry_interval_s=0.05, first_delivery_retry_s=0.05)


@dataclass
class Platform_:
    """What the user saw: final outputs the platform accepted, and what it refused."""

    shown: list[str] = field(default_factory=list)
    previews: list[str] = field(default_factory=list)
    fail_next: int = 0  # refuse this many deliveries with a transient error
    blocked: bool = False
    # What a platform that looks up its own posts would find: the texts it holds already.
    holds: list[str] = field(default_factory=list)
    tickets: list[Delivery | None] = field(default_factory=list)

    async def __call__(self, key: ConversationKey, outputs: AsyncIterator[Output]) -> None:
        raise AssertionError("with an outbox the engine previews and delivers; never this")

    async def preview(self, key: ConversationKey, outputs: AsyncIterator[Output]) -> None:
        async for output in outputs:
            self.previews.append(type(output).__name__)

    async def deliver(
        self, key: ConversationKey, output: Output, delivery: Delivery | None = None
    ) -> Shown:
        assert isinstance(output, TextDone | Message), output
        self.tickets.append(delivery)
        if self.blocked:
            raise DeliveryBlocked("bot was blocked by the user")
        if delivery is not None and delivery.retried and output.text in self.holds:
            return Shown.EARLIER
        if self.fail_next:
            self.fail_next -= 1
            raise ConnectionError("platform unreachable")
        self.shown.append(output.text)
        return Shown.NOW


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, db_url: str) -> tuple[str, str | None]:
    if request.param == "sqlite":
        return db_url, None
    return PG_URL, f"test_outbox_{uuid.uuid4().hex[:16]}"


async def outbox_rows(url: str, schema: str | None) -> list[tuple[str, int]]:
    engine = connect.create_engine(connect.parse_url(url), schema)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(sql("SELECT state, attempts FROM outbox ORDER BY id"))
            return [(str(state), int(attempts)) for state, attempts in rows]
    finally:
        await engine.dispose()


async def start(
    llm: FakeLLMServer,
    database: tuple[str, str | None],
    platform: Platform_,
    options: EngineOptions = OPTIONS,
) -> tuple[object, Harness]:
    built = harness(llm.base_url, database[0], schema=database[1], options=options)
    bot = await built.__aenter__()
    assert isinstance(platform, Deliverer)
    bot.engine.attach(Platform.CONSOLE, platform)
    return built, bot


async def test_a_reply_the_platform_refuses_is_kept_and_delivered_once_after_a_restart(
    llm_server: FakeLLMServer, database: tuple[str, str | None]
) -> None:
    llm_server.enqueue("Reset it from the portal.")
    down = Platform_(fail_next=10**6)
    # No retry loop before the "crash": nothing is running when this engine stops.
    patient = EngineOptions(retry_interval_s=3600, first_delivery_retry_s=0.2)
    built, bot = await start(llm_server, database, down, patient)
    try:
        await bot.send("how do I reset my password?")
        conversation = await bot.store.active_conversation(bot.key)
        assert conversation is not None
        [message] = [m for m in await bot.store.history(conversation.id) if m.role.value == "user"]
        assert message.status is MessageStatus.ANSWERED  # stored before any delivery
        assert down.shown == [] and "TextDelta" in down.previews
        pending = await bot.store.pending_deliveries(conversation.id)
        assert len(pending) == 1 and pending[0].attempts >= 1
    finally:
        await built.__aexit__(None, None, None)  # type: ignore[attr-defined]

    retries_before = DELIVERIES.labels("delivered")._value.get()
    up = Platform_()
    built, bot = await start(llm_server, database, up)
    try:
        await bot.engine.resume()  # what start() does after a restart, once more at once
        await bot.engine.idle()
        while (await bot.store.pending_deliveries(conversation.id)) or not up.shown:
            await bot.engine.resume()
            await bot.engine.idle()
        assert up.shown == ["Reset it from the portal."]
        assert len(llm_server.requests) == 1  # the turn was not run again
        assert DELIVERIES.labels("delivered")._value.get() == retries_before + 1
    finally:
        await built.__aexit__(None, None, None)  # type: ignore[attr-defined]
    [(state, attempts)] = await outbox_rows(*database)
    assert state == DeliveryState.DELIVERED and attempts >= 2


async def test_later_replies_wait_behind_an_undelivered_one(
    llm_server: FakeLLMServer, database: tuple[str, str | None]
) -> None:
    llm_server.enqueue("First answer.", "Second answer.")
    platform = Platform_(fail_next=1)
    built, bot = await start(llm_server, database, platform)
    try:
        await bot.send("first question")
        await bot.send("second question")
        while len(platform.shown) < 2:
            await bot.engine.resume()
            await bot.engine.idle()
        assert platform.shown == ["First answer.", "Second answer."]
    finally:
        await built.__aexit__(None, None, None)  # type: ignore[attr-defined]


async def test_a_blocked_user_ends_the_conversation_and_the_reply_is_given_up(
    llm_server: FakeLLMServer, database: tuple[str, str | None]
) -> None:
    llm_server.enqueue("You will not see this.")
    built, bot = await start(llm_server, database, Platform_(blocked=True))
    try:
        await bot.send("hello")
        conversations = await bot.store.list_conversations()
        assert [c.status for c in conversations] == [ConversationStatus.BLOCKED]
        assert await bot.store.delivery_counts() == {
            DeliveryState.PENDING: 0,
            DeliveryState.FAILED: 1,
        }
    finally:
        await built.__aexit__(None, None, None)  # type: ignore[attr-defined]


async def test_only_a_retried_delivery_is_looked_up_and_one_found_is_not_sent_again(
    llm_server: FakeLLMServer, database: tuple[str, str | None]
) -> None:
    """The first attempt, right after its commit, cannot repeat an earlier one; any later
    attempt may (its outcome was never recorded): the platform is asked to look first,
    and what it finds is marked delivered without being shown again."""
    llm_server.enqueue("First answer.", "Second answer.")
    # Refused twice: the second reply's first attempt comes in a retry, behind the first.
    platform = Platform_(fail_next=2, holds=["Second answer."])
    found_before = DELIVERIES.labels("found")._value.get()
    built, bot = await start(llm_server, database, platform)
    try:
        await bot.send("first question")
        await bot.send("second question")
        async with asyncio.timeout(20):
            while platform.shown != ["First answer."] or await bot.store.delivery_counts() != {
                DeliveryState.PENDING: 0,
                DeliveryState.FAILED: 0,
            }:
                await bot.engine.resume()
                await bot.engine.idle()
    finally:
        await built.__aexit__(None, None, None)  # type: ignore[attr-defined]
    tickets = [t for t in platform.tickets if t is not None]
    first, *later = tickets
    assert not first.retried and first.since is not None  # the commit's own attempt
    assert later and all(t.retried for t in later)  # after a failure: maybe shown already
    # The second reply waited behind the first; taken up later, it was found, not re-sent.
    assert platform.shown == ["First answer."]
    assert DELIVERIES.labels("found")._value.get() == found_before + 1
    assert [state for state, _ in await outbox_rows(*database)] == [DeliveryState.DELIVERED] * 2
