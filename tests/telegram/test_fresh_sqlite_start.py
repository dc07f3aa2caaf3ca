"""Start-up on a fresh SQLite database never fails, whatever else writes to it meanwhile:
`chatbot run` as a real process while another connection keeps taking the write lock."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from tests.fakes.llm_server import FakeLLMServer
from tests.fakes.telegram import FakeTelegram
from tests.telegram.bot_process import BotProcess


class Prober(threading.Thread):
    """A neighbour that writes a short transaction every couple of milliseconds from the
    moment the database file appears (a health probe, a backup job, another tool). (One
    that never pauses starves any other writer of a rollback-journal file: SQLite's own
    limit, not a start-up race.)"""

    def __init__(self, path: Path) -> None:
        super().__init__(daemon=True)
        self.path = path
        self.stop = threading.Event()
        self.writes = 0
        self.refused = 0

    def run(self) -> None:
        while not self.stop.is_set() and not self.path.exists():
            self.stop.wait(0.001)
        connection = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        while not self.stop.is_set():
            try:
                connection.execute("CREATE TABLE IF NOT EXISTS probe (at REAL)")
                connection.execute("INSERT INTO probe VALUES (julianday('now'))")
                self.writes += 1
            except sqlite3.OperationalError:
                self.refused += 1  # the neighbour's problem; the bot's start-up is the test
            self.stop.wait(0.002)
        connection.close()


async def test_start_up_on_a_fresh_sqlite_database_survives_a_busy_neighbour(
    tg: FakeTelegram, llm_server: FakeLLMServer, tmp_path: Path
) -> None:
    for attempt in range(2):
        path = tmp_path / f"fresh-{attempt}.db"
        prober = Prober(path)
        prober.start()
        bot = BotProcess(tg, llm_server, f"sqlite+aiosqlite:///{path}", tmp_path)
        try:
            await bot.start()
            assert bot.process is not None and bot.process.returncode is None, bot.log(1)
            assert "database is locked" not in bot.log(1)
        finally:
            prober.stop.set()
            prober.join()
            await bot.stop()
        assert prober.writes > 0, (attempt, prober.refused, path.exists())  # it really wrote
        assert bot.process is not None and bot.process.returncode == 0, bot.log(1)
