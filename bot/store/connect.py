"""Engines and migrations: what differs between SQLite and PostgreSQL lives here.

SQLite: the database file's folder is created, and every connection gets WAL (readers do
not block the writer), foreign keys, and a busy timeout. Transactions start with
`BEGIN IMMEDIATE`, so one that reads and then writes waits for the write lock up front
instead of failing half-way with SQLITE_BUSY.

PostgreSQL: an optional schema, set as the connection's search_path, lets several
deployments (or test sessions) share one database without seeing each other.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 10_000
POOL_WAIT_S = 300.0  # longest wait for a free pooled connection (PostgreSQL)
_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def is_sqlite(url: URL) -> bool:
    return url.get_backend_name() == "sqlite"


def safe_url(url: URL) -> str:
    """The URL for logs: never the password."""
    return url.render_as_string(hide_password=True)


def check_schema(schema: str | None) -> None:
    if schema is not None and not _SCHEMA_NAME.fullmatch(schema):
        raise ValueError(f"invalid schema name {schema!r}: use lowercase letters, digits, _")


def create_engine(
    url: URL,
    schema: str | None,
    *,
    for_locks: bool = False,
    read_only: bool = False,
    pool_size: int | None = None,
) -> AsyncEngine:
    """The store's engine. `pool_size` (PostgreSQL): at most that many connections, never
    more (no overflow; a caller waits for a free one). `for_locks` builds the engine of the
    one connection the advisory locks live on (bot.store.locks): a pool of one, autocommit
    (a turn holding a lock must not sit idle in a transaction).
    `read_only` (SQLite): plain deferred BEGIN, so that reads never queue for the write lock;
    in WAL mode they see the last committed state without blocking anyone."""
    connect_args: dict[str, Any] = {}
    options: dict[str, Any] = {}
    if not is_sqlite(url):
        settings = {"application_name": application_name(schema)}
        if schema is not None:
            settings["search_path"] = schema
        connect_args["server_settings"] = settings
        if _is_loopback(url) and not {"ssl", "sslmode"} & set(url.query):
            # No TLS to ourselves: asyncpg's default ("prefer") builds an SSL context and
            # tries a handshake on every connect.
            connect_args["ssl"] = False
        if for_locks:
            options.update(pool_size=1, max_overflow=0, isolation_level="AUTOCOMMIT")
        elif pool_size is not None:
            # Waiting for a connection is how the bound works under load: time out only
            # when something is truly stuck, not because a burst is being worked off.
            options.update(pool_size=pool_size, max_overflow=0, pool_timeout=POOL_WAIT_S)
    if is_sqlite(url):
        _create_parent_folder(url)
    engine = create_async_engine(url, connect_args=connect_args, **options)
    if is_sqlite(url):
        event.listen(engine.sync_engine, "connect", _sqlite_on_connect)
        on_begin = _sqlite_on_begin_deferred if read_only else _sqlite_on_begin
        event.listen(engine.sync_engine, "begin", on_begin)
    return engine


def application_name(schema: str | None) -> str:
    """What pg_stat_activity shows for the bot's connections: the schema tells apart
    deployments (and test sessions) sharing one database, the process id which of several
    workers holds a connection. `application_prefix` matches every process's."""
    return f"{application_prefix(schema)}{os.getpid()}"


def application_prefix(schema: str | None) -> str:
    return f"chatbot:{schema}:" if schema else "chatbot:"


def _is_loopback(url: URL) -> bool:
    return (url.host or "") in {"127.0.0.1", "localhost", "::1"}


def _create_parent_folder(url: URL) -> None:
    database = url.database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def _sqlite_on_connect(dbapi_connection: Any, connection_record: Any) -> None:
    # Let the "begin" listener emit BEGIN itself, instead of the driver's implicit one.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        # WAL + NORMAL: a commit survives a crash of the process (not a power cut), without
        # an fsync per transaction.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    finally:
        cursor.close()


def _sqlite_on_begin(connection: Connection) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def _sqlite_on_begin_deferred(connection: Connection) -> None:
    connection.exec_driver_sql("BEGIN")


def advisory_key(namespace: str, ident: int) -> int:
    """A signed 64-bit PostgreSQL advisory lock key for `ident` within `namespace`."""
    digest = hashlib.sha256(f"{namespace}:{ident}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def alembic_config(url: URL) -> Config:
    """Alembic configured in code: no alembic.ini needed."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # ConfigParser interpolation treats % specially (percent-encoded passwords).
    config.set_main_option(
        "sqlalchemy.url", url.render_as_string(hide_password=False).replace("%", "%%")
    )
    return config


async def upgrade(engine: AsyncEngine, schema: str | None) -> None:
    """Migrate to head on the engine's own connection, in one transaction."""
    url = engine.url
    async with engine.begin() as connection:
        if not is_sqlite(url):
            # Two processes starting together must not both run the migrations.
            await connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"),
                {"key": advisory_key("bot.store.upgrade", 0)},
            )
            if schema is not None:
                await connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        await connection.run_sync(_upgrade_on, url)
    log.info("database at %s migrated to head", safe_url(url))


def _upgrade_on(connection: Connection, url: URL) -> None:
    config = alembic_config(url)
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def parse_url(url: str) -> URL:
    return make_url(url)


class SerialWrites(async_sessionmaker[AsyncSession]):
    """SQLite's sessions, whose write transactions (`begin()`) take turns in this process.

    SQLite has one write lock; waiters poll for it in the busy handler, unordered, and fail
    with "database is locked" after the busy timeout. With hundreds of conversations on a
    busy machine some waited past it. Queued here (FIFO, no timeout) instead, only one
    connection at a time ever asks SQLite for the lock, which it then gets at once."""

    def __init__(self, engine: AsyncEngine) -> None:
        super().__init__(engine, expire_on_commit=False)
        self._write_engine = engine
        self._turn = asyncio.Lock()

    @asynccontextmanager
    async def _serial(self) -> AsyncIterator[AsyncSession]:
        async with self._turn, super().begin() as session:
            yield session

    def begin(self) -> Any:
        return self._serial()

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction on a plain connection (SQLAlchemy Core), in the same queue
        as the sessions' `begin()`."""
        async with self._turn, self._write_engine.begin() as connection:
            yield connection
