"""APScheduler's job store, in the bot's own database, so scheduled jobs outlive a restart.

APScheduler 3's `SQLAlchemyJobStore` is synchronous, so it gets a synchronous URL derived
from the async one: `sqlite+aiosqlite` becomes `sqlite` (the standard library driver) and
`postgresql+asyncpg` becomes `postgresql+psycopg`. Its table (`apscheduler_jobs`) is
created by APScheduler itself, outside the Alembic migrations: it holds only pickled job
references, no personal data.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from sqlalchemy import event
from sqlalchemy.engine import URL, Engine, create_engine
from sqlalchemy.exc import OperationalError

from bot.store import connect

log = logging.getLogger(__name__)

JOBS_TABLE = "apscheduler_jobs"
CREATE_ATTEMPTS = 6
_SYNC_DRIVERS = {"sqlite": "sqlite", "postgresql": "postgresql+psycopg"}


def sync_url(async_url: str) -> URL:
    """The same database through a synchronous driver."""
    url = connect.parse_url(async_url)
    backend = url.get_backend_name()
    if backend not in _SYNC_DRIVERS:
        raise ValueError(f"no synchronous driver known for {backend!r}")
    return url.set(drivername=_SYNC_DRIVERS[backend])


def sync_engine(async_url: str, schema: str | None = None) -> Engine:
    url = sync_url(async_url)
    connect.check_schema(schema)
    options: dict[str, Any] = {}
    if connect.is_sqlite(url):
        # The store's async engine may hold the write lock a moment: wait, do not fail.
        options["connect_args"] = {"timeout": connect.SQLITE_BUSY_TIMEOUT_MS / 1000}
    engine = create_engine(url, pool_pre_ping=True, **options)
    if connect.is_sqlite(url):
        event.listen(engine, "connect", _sqlite_on_connect)
    return engine


def _sqlite_on_connect(dbapi_connection: Any, connection_record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        # Changing the journal mode needs the database to itself, and SQLite does not wait
        # for that: only switch a file that is not in WAL mode yet (the store did it).
        mode = cursor.execute("PRAGMA journal_mode").fetchone()
        if not mode or str(mode[0]).lower() != "wal":
            cursor.execute("PRAGMA journal_mode=WAL")
    finally:
        cursor.close()


def job_store(async_url: str, schema: str | None = None) -> Any:
    """A persistent APScheduler job store in the database at `async_url` (and `schema`),
    its table created here (retried while another connection holds SQLite's lock), so the
    scheduler's own start only reads."""
    store = SQLAlchemyJobStore(
        engine=sync_engine(async_url, schema), tablename=JOBS_TABLE, tableschema=schema
    )
    for attempt in range(CREATE_ATTEMPTS):
        try:
            store.jobs_t.create(store.engine, checkfirst=True)
            break
        except OperationalError:
            if attempt == CREATE_ATTEMPTS - 1:
                raise
            log.warning("job table: database busy; trying again")
            time.sleep(0.2 * 2**attempt)
    return store
