"""A bot core wired for tests: real store, real LLM client, the scripted LLM server, and a
renderer that records what a user would see. Nothing of ours is replaced."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from bot.app import default_flows
from bot.domain import (
    Buttons,
    ConversationKey,
    FlowStart,
    Incoming,
    InputKind,
    Message,
    Output,
    Platform,
    TextDelta,
    TextDone,
    UserRef,
    utcnow,
)
from bot.engine import Engine, EngineOptions
from bot.export import export_user_data
from bot.flows.base import FlowRegistry
from bot.llm.client import OpenAICompatibleLLM
from bot.ports import Receipt
from bot.prompts import PromptLibrary
from bot.speech.step import VoiceStep
from bot.store.checkpoints import SqlCheckpoints
from bot.store.sql import SqlStore

PROMPTS = Path(__file__).resolve().parent.parent / "prompts"


@dataclass
class Recorder:
    """A renderer that keeps every turn's outputs."""

    turns: list[tuple[ConversationKey, list[Output]]] = field(default_factory=list)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def __call__(self, key: ConversationKey, outputs: AsyncIterator[Output]) -> None:
        items: list[Output] = []
        self.turns.append((key, items))
        async for output in outputs:
            items.append(output)
            self._changed.set()

    async def wait_for(self, predicate: Callable[[], bool], timeout_s: float = 5.0) -> None:
        """Wait until `predicate()` holds, rechecked on every output rendered."""
        async with asyncio.timeout(timeout_s):
            while not predicate():
                self._changed.clear()
                await self._changed.wait()

    def texts(self) -> list[str]:
        """What the user read, one entry per complete message."""
        return [
            o.text
            for _, outputs in self.turns
            for o in outputs
            if isinstance(o, TextDone | Message | Buttons)
        ]

    def deltas(self) -> list[str]:
        return [o.text for _, outputs in self.turns for o in outputs if isinstance(o, TextDelta)]


@dataclass
class Harness:
    engine: Engine
    store: SqlStore
    llm: OpenAICompatibleLLM
    seen: Recorder
    user: UserRef = UserRef(Platform.CONSOLE, "alice", "Alice")

    @property
    def key(self) -> ConversationKey:
        return ConversationKey.user_in_chat(
            Platform.CONSOLE, "terminal", self.user.platform_user_id
        )

    def incoming(
        self,
        text: str = "",
        *,
        kind: InputKind = InputKind.TEXT,
        event_id: str | None = None,
        flow: str = "support",
        params: dict[str, str] | None = None,
        action_id: str = "",
    ) -> Incoming:
        return Incoming(
            self.key,
            self.user,
            kind,
            text,
            action_id=action_id,
            event_id=event_id,
            start=FlowStart(flow, params or {}),
        )

    async def send(self, text: str = "", **kwargs: object) -> Receipt:
        receipt = await self.engine.submit(self.incoming(text, **kwargs))  # type: ignore[arg-type]
        await receipt.wait()
        return receipt


async def eventually(check: Callable[[], Awaitable[bool]], timeout_s: float = 10.0) -> None:
    """Poll an async condition (a database state) until it holds."""
    for _ in range(int(timeout_s / 0.02)):
        if await check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"condition not met within {timeout_s} s")


@asynccontextmanager
async def harness(
    llm_url: str,
    db_url: str,
    *,
    schema: str | None = None,
    retry_interval_s: float = 0.2,
    options: EngineOptions | None = None,
    timeout_s: float = 10,
    llm: OpenAICompatibleLLM | None = None,
    flows: Callable[[SqlStore], FlowRegistry] | None = None,
    voice: VoiceStep | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> AsyncIterator[Harness]:
    """`llm` replaces the test client built from `llm_url` (the caller then closes it);
    `flows` builds the flows from the store (the help desk's), instead of the defaults."""
    store = SqlStore(db_url, schema=schema) if schema else SqlStore(db_url)
    owned = llm is None
    llm = llm or OpenAICompatibleLLM(llm_url, max_retries=1, backoff_s=0.01, timeout_s=timeout_s)
    await store.upgrade()
    engine = Engine(
        store,
        llm,
        PromptLibrary(PROMPTS),
        flows(store) if flows is not None else default_flows(),
        options or EngineOptions(retry_interval_s=retry_interval_s),
        exporter=lambda user_id: export_user_data(store, user_id),
        voice=voice,
        clock=clock,
        checkpoints=SqlCheckpoints(store).of,
    )
    seen = Recorder()
    engine.attach(Platform.CONSOLE, seen)
    await engine.start()
    try:
        yield Harness(engine, store, llm, seen)
    finally:
        await engine.stop()
        if owned:
            await llm.close()
        await store.close()
