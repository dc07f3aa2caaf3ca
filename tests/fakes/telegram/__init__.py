"""A fake Telegram Bot API server for tests: see `server.FakeTelegram`."""

from tests.fakes.telegram.server import FakeTelegram
from tests.fakes.telegram.state import Call, Draft, FakeMessage

__all__ = ["Call", "Draft", "FakeMessage", "FakeTelegram"]
