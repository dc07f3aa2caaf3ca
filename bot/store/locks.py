"""Conversation locks across processes: many PostgreSQL advisory locks on ONE connection.

A session-level advisory lock lives as long as the connection that took it. Holding one
connection per locked conversation (what the store did before) runs PostgreSQL out of
connections at a few hundred concurrent conversations and pays a connect (DSN parsing, an
SSL context) per turn. Here one persistent connection per process takes and frees every
lock with `pg_try_advisory_lock` / `pg_advisory_unlock`, one statement at a time (a
connection runs one statement at a time anyway); a lock another process holds is retried
with a jittered, capped backoff instead of blocking the shared connection.

If the connection dies, PostgreSQL frees all its locks. The next statement (or the
heartbeat, whichever comes first) reconnects and takes back every lock still held here;
a lock another process took in between is lost, and the turn that held it is cancelled
before it can write anything (its message stays pending, the other process answers it).

Advisory locks are re-entrant within a session, so two holders in this process would both
"get" the same key: an in-process lock per key comes first.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy import TextClause, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.locks import KeyedLocks

log = logging.getLogger(__name__)

_TRY = text("SELECT pg_try_advisory_lock(:key)")
_UNLOCK = text("SELECT pg_advisory_unlock(:key)")
_PING = text("SELECT 1")


class LockUnavailable(Exception):
    """The lock connection could not be (re)established: no turn may run."""


@dataclass(frozen=True, slots=True)
class LockTiming:
    first_retry_s: float = 0.01  # a lock another process holds: first look again after this
    max_retry_s: float = 0.25  # and never wait longer than this between looks
    heartbeat_s: float = 2.0  # how soon a dead connection is noticed while locks are held


class AdvisoryLocks:
    """`hold(key)` as an async context manager; `key` a signed 64-bit advisory key."""

    def __init__(self, engine: AsyncEngine, timing: LockTiming | None = None) -> None:
        self._engine = engine  # AUTOCOMMIT, a pool of one: see connect.create_engine
        self._timing = timing or LockTiming()
        self._connection: AsyncConnection | None = None
        self._statement = asyncio.Lock()  # one statement at a time on the connection
        self._local = KeyedLocks()
        self._holders: dict[int, asyncio.Task[object]] = {}
        self._heartbeat: asyncio.Task[None] | None = None
        self._orphans: set[asyncio.Future[None]] = set()
        self.reconnects = 0  # for tests and /metrics

    @property
    def held(self) -> int:
        return len(self._holders)

    @asynccontextmanager
    async def hold(self, key: int) -> AsyncIterator[None]:
        async with self._local.hold(key):
            delay = self._timing.first_retry_s
            while not await self._try(key):
                await asyncio.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, self._timing.max_retry_s)
            task = asyncio.current_task()
            assert task is not None
            self._holders[key] = task
            self._ensure_heartbeat()
            try:
                yield
            finally:
                if self._holders.pop(key, None) is not None:  # not lost on a reconnect
                    # Shielded: a cancelled turn must still free its lock, or it would stay
                    # taken for as long as the shared connection lives.
                    await asyncio.shield(self._unlock(key))

    async def close(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            await asyncio.gather(self._heartbeat, return_exceptions=True)
            self._heartbeat = None
        async with self._statement:
            await self._drop_connection()

    # ---- the one connection ------------------------------------------------------------

    async def _try(self, key: int) -> bool:
        attempt = asyncio.ensure_future(self._execute_bool(_TRY, {"key": key}))
        try:
            return await asyncio.shield(attempt)
        except asyncio.CancelledError:
            # Cancelled while PostgreSQL may be granting it: free it once it is granted.
            attempt.add_done_callback(lambda done: self._free_orphan(key, done))
            raise

    def _free_orphan(self, key: int, attempt: asyncio.Future[bool]) -> None:
        if attempt.cancelled() or attempt.exception() is not None or not attempt.result():
            return
        task = asyncio.ensure_future(self._unlock(key))
        self._orphans.add(task)
        task.add_done_callback(self._orphans.discard)

    async def _execute_bool(self, statement: TextClause, params: dict[str, int]) -> bool:
        async with self._statement:
            for attempt in range(2):
                try:
                    connection = await self._connected()
                    result = await connection.execute(statement, params)
                    return bool(result.scalar_one())
                except (SQLAlchemyError, OSError) as exc:
                    log.warning("lock connection failed (%s); reconnecting", type(exc).__name__)
                    await self._drop_connection()
                    if attempt == 1:
                        raise LockUnavailable("the lock connection keeps failing") from exc
        raise AssertionError("unreachable")  # pragma: no cover

    async def _unlock(self, key: int) -> None:
        try:
            if not await self._execute_bool(_UNLOCK, {"key": key}):
                log.warning("advisory lock %s was not held when released", key)
        except LockUnavailable:
            # The connection is gone, and every lock it held with it.
            log.warning("lock connection lost while releasing; the lock went with it")

    async def _connected(self) -> AsyncConnection:
        """The connection, reconnected (and every held lock re-taken) when it was lost.
        Called with the statement lock held."""
        if self._connection is not None:
            return self._connection
        try:
            connection = await self._engine.connect()
        except (SQLAlchemyError, OSError) as exc:
            raise LockUnavailable(f"cannot connect for locks: {type(exc).__name__}") from exc
        self._connection = connection
        if self._holders:
            self.reconnects += 1
            await self._retake(connection)
        return connection

    async def _retake(self, connection: AsyncConnection) -> None:
        for key, task in list(self._holders.items()):
            result = await connection.execute(_TRY, {"key": key})
            if not result.scalar_one():
                # Another process holds it now: this turn must not write what it did.
                log.error("conversation lock %s lost with its connection; turn stopped", key)
                del self._holders[key]
                task.cancel()

    async def _drop_connection(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            await connection.invalidate()
            await connection.close()
        except (SQLAlchemyError, OSError):
            log.debug("closing the dead lock connection failed", exc_info=True)

    def _ensure_heartbeat(self) -> None:
        if self._heartbeat is None or self._heartbeat.done():
            self._heartbeat = asyncio.create_task(self._beat(), name="advisory-locks-heartbeat")

    async def _beat(self) -> None:
        """While locks are held, notice a dead connection before the next turn does."""
        while self._holders:
            await asyncio.sleep(self._timing.heartbeat_s)
            if not self._holders:
                break
            try:
                await self._execute_bool(_PING, {})
            except LockUnavailable:
                log.warning("lock connection unavailable; retrying at the next heartbeat")
