"""The engine as adapters see it: submit what a user did, render what comes back.

Delivery is push: an adapter attaches a `Renderer` for its platform, and the engine calls
it with the `Output` stream of every turn on that platform, whether the turn answers a
message just submitted, a message saved before a restart or an outage, or a scheduled job
(a reminder). So an adapter never waits on the engine to answer a platform request.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol, runtime_checkable

from aiohttp import web

from bot.domain import ConversationKey, Incoming, Output, Platform


class Renderer(Protocol):
    async def __call__(self, key: ConversationKey, outputs: AsyncIterator[Output]) -> None:
        """Show one turn's outputs on the platform. Raise `bot.errors.DeliveryBlocked`
        when the platform will not deliver to this user any more (blocked the bot)."""


@dataclass(frozen=True, slots=True)
class Delivery:
    """Which outbox row an output delivers (bot/delivery.py), for a platform that can mark
    what it posts and look it up again.

    `retried` is True when an earlier attempt may have shown it already: the row was not
    written by the commit being delivered now (a restart, another process, a retry after
    a failure), so whether the platform took it before is unknown."""

    outbox_id: int
    retried: bool
    since: datetime | None = None  # when the row was written: nothing of it is older


class Shown(StrEnum):
    NOW = "now"  # the platform accepted it just now
    EARLIER = "earlier"  # found on the platform, posted by an earlier attempt: not sent again


@runtime_checkable
class Deliverer(Protocol):
    """A renderer that works with the outbox (bot/delivery.py): a turn's progress is
    previewed while it runs, and each final output is delivered after the turn is stored.

    A platform adapter implements this beside `Renderer.__call__` (which shows a whole
    stream at once, for renderers with no outbox: the terminal, tests)."""

    async def __call__(self, key: ConversationKey, outputs: AsyncIterator[Output]) -> None: ...

    async def preview(self, key: ConversationKey, outputs: AsyncIterator[Output]) -> None:
        """Show progress while the turn runs: typing, drafts, a stream left open. Nothing
        shown here is the reply of record; `TextDone` only ends one reply's preview, and
        `Message`/`Buttons` are left to `deliver`."""

    async def deliver(
        self, key: ConversationKey, output: Output, delivery: Delivery | None = None
    ) -> Shown:
        """Show one final output (`TextDone`, `Message`, `Buttons`) for good, finishing its
        preview if this process still holds it. Return only once the platform accepted it;
        raise `DeliveryBlocked` when it never will, anything else to be retried later.

        `delivery` is None for a notice that no outbox row holds. A platform that can look
        up what it posted marks the output with `delivery.outbox_id` and, when
        `delivery.retried`, first looks for it: found, it returns `Shown.EARLIER`."""


@dataclass(slots=True)
class Receipt:
    """What `submit` did with an `Incoming`.

    `accepted` is False for a duplicate platform event (nothing else happens). `done`
    resolves when the message has been answered (or rejected with an explanation).
    """

    accepted: bool
    conversation_id: int | None = None
    message_id: int | None = None
    done: asyncio.Future[None] = field(default_factory=lambda: _resolved())

    async def wait(self) -> None:
        await asyncio.shield(self.done)


def _resolved() -> asyncio.Future[None]:
    future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    future.set_result(None)
    return future


@dataclass(frozen=True, slots=True)
class EvaluationStored:
    conversation_id: int
    evaluation_id: int
    ok: bool


@dataclass(frozen=True, slots=True)
class HandoffRequested:
    conversation_id: int
    key: ConversationKey
    reason: str
    summary: str


@dataclass(frozen=True, slots=True)
class ConversationEnded:
    conversation_id: int
    key: ConversationKey
    status: str  # a ConversationStatus value: cancelled, expired, blocked...


@dataclass(frozen=True, slots=True)
class HandedOffMessage:
    """A message in a conversation people have (status HANDED_OFF): stored, not answered
    by the bot, for the hand-off relay to pass on."""

    conversation_id: int
    key: ConversationKey
    message_id: int
    kind: str  # an InputKind value
    text: str


DomainEvent = EvaluationStored | HandoffRequested | ConversationEnded | HandedOffMessage
Listener = Callable[[DomainEvent], Awaitable[None]]


class EngineAPI(Protocol):
    def attach(self, platform: Platform, renderer: Renderer) -> None: ...

    def subscribe(self, listener: Listener) -> None:
        """Called after the event is stored (hiring-channel reports, escalations)."""

    async def submit(self, incoming: Incoming) -> Receipt: ...


class Adapter(Protocol):
    """A platform connection, started and stopped by the composition root.

    `http_routes` are mounted on the bot's one HTTP server (webhooks, Slack events) beside
    `/healthz` and `/metrics`.
    """

    platform: Platform

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def http_routes(self) -> list[web.RouteDef]: ...
