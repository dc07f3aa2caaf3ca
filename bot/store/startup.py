"""Opening the database at start-up: migrations that wait out a busy SQLite file, and what
to say when it cannot be opened (never the password)."""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.exc import OperationalError

from bot.store import connect
from bot.store.api import Store

log = logging.getLogger(__name__)

LOCKED_ATTEMPTS = 8  # about 25 s in all


def redacted_url(url: str) -> str:
    """The URL as the operator wrote it, password masked."""
    try:
        return connect.parse_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - whatever it is, it must not be echoed back
        return "(a URL that does not parse)"


def _locked(error: OperationalError) -> bool:
    return "database is locked" in str(error.orig).lower()


async def upgrade_when_free(store: Store) -> None:
    """Migrate to head. A fresh SQLite file that someone else is writing to (a probe, a
    second process) may refuse the switch to WAL or an immediate transaction without
    waiting for its busy timeout: try again, with backoff, rather than fail start-up."""
    for attempt in range(LOCKED_ATTEMPTS):
        try:
            await store.upgrade()
            return
        except OperationalError as error:
            if not _locked(error) or attempt == LOCKED_ATTEMPTS - 1:
                raise
            delay = 0.2 * 2**attempt
            log.warning("database busy during start-up; migrating again in %.1f s", delay)
            await asyncio.sleep(delay)
