"""At most BOT_LLM_MAX_CONCURRENCY requests in flight to the model server; the rest wait
here, served round-robin by conversation (one chatty conversation, or an interview grading
several samples at once, cannot starve the others), and a conversation that waits longer
than `notice_after_s` is told once where it stands.

Why here and not in vLLM's own queue: vLLM serves its waiting requests first come, first
served, and nobody could tell the user how long the wait is.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager

from bot.llm.types import LLM, ChatMessage, SchemaT, StreamEvent, Structured

log = logging.getLogger(__name__)

# Told (session id, place in the queue, 1 = next) once per wait longer than notice_after_s.
WaitListener = Callable[[str, int], None]


class FairQueue:
    def __init__(self, limit: int, *, notice_after_s: float = 3.0) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.limit = limit
        self.notice_after_s = notice_after_s
        self.in_flight = 0
        self.peak_in_flight = 0
        self._waiting: OrderedDict[str, deque[asyncio.Future[None]]] = OrderedDict()
        self._listeners: list[WaitListener] = []

    def on_wait(self, listener: WaitListener) -> None:
        self._listeners.append(listener)

    @property
    def waiting(self) -> int:
        return sum(len(q) for q in self._waiting.values())

    @asynccontextmanager
    async def slot(self, key: str) -> AsyncIterator[None]:
        await self._acquire(key)
        try:
            yield
        finally:
            self._release()

    def position(self, key: str, ticket: asyncio.Future[None]) -> int:
        """Where `ticket` stands (1 = served next) under round-robin: each key ahead of
        this one in the rotation serves one more waiter per round than the keys after."""
        mine = self._waiting.get(key)
        if mine is None or ticket not in mine:
            return 0
        rounds = mine.index(ticket)
        ahead, before = 0, True
        for other, waiters in self._waiting.items():
            if other == key:
                before = False
                continue
            ahead += min(len(waiters), rounds + 1 if before else rounds)
        return ahead + rounds + 1

    async def _acquire(self, key: str) -> None:
        if self.in_flight < self.limit and not self._waiting:
            self._take()
            return
        ticket: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(key, deque()).append(ticket)
        try:
            done, _ = await asyncio.wait({ticket}, timeout=self.notice_after_s)
            if not done:
                self._tell(key, self.position(key, ticket))
                await ticket
        except BaseException:
            if ticket.done() and not ticket.cancelled():
                self._release()  # granted as we were cancelled: pass it on
            else:
                ticket.cancel()
                self._forget(key, ticket)
            raise

    def _take(self) -> None:
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)

    def _release(self) -> None:
        self.in_flight -= 1
        while self._waiting and self.in_flight < self.limit:
            key, waiters = next(iter(self._waiting.items()))
            ticket = waiters.popleft()
            if waiters:
                self._waiting.move_to_end(key)  # round-robin: this key goes last
            else:
                del self._waiting[key]
            if not ticket.done():
                self._take()
                ticket.set_result(None)

    def _forget(self, key: str, ticket: asyncio.Future[None]) -> None:
        waiters = self._waiting.get(key)
        if waiters is not None and ticket in waiters:
            waiters.remove(ticket)
            if not waiters:
                del self._waiting[key]

    def _tell(self, key: str, position: int) -> None:
        log.info("%s waits for the model: place %d of %d", key, position, self.waiting)
        for listener in self._listeners:
            try:
                listener(key, position)
            except Exception:
                log.exception("queue listener failed")


class QueuedLLM:
    """An `LLM` whose every request first takes a slot of the fair queue."""

    def __init__(self, inner: LLM, queue: FairQueue) -> None:
        self.inner, self.queue = inner, queue

    async def model_name(self) -> str:
        return await self.inner.model_name()

    async def ping(self) -> bool:
        return await self.inner.ping()

    async def stream(
        self,
        messages: Sequence[ChatMessage],
        *,
        temperature: float | None = None,
        max_tokens: int | None = None,
        session_id: str | None = None,
    ) -> AsyncIterator[StreamEvent]:
        async with self.queue.slot(session_id or ""):
            async for event in self.inner.stream(
                messages, temperature=temperature, max_tokens=max_tokens, session_id=session_id
            ):
                yield event

    async def structured(
        self,
        messages: Sequence[ChatMessage],
        schema: type[SchemaT],
        *,
        temperature: float = 0.0,
        max_tokens: int | None = None,
        session_id: str | None = None,
    ) -> Structured[SchemaT]:
        async with self.queue.slot(session_id or ""):
            return await self.inner.structured(
                messages,
                schema,
                temperature=temperature,
                max_tokens=max_tokens,
                session_id=session_id,
            )
