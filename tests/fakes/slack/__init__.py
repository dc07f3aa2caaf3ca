"""A fake Slack (Web API + event delivery) for tests, on 127.0.0.1."""

from tests.fakes.slack.events import sign, signed_headers
from tests.fakes.slack.server import FakeSlack
from tests.fakes.slack.state import AssistantThread, Call, FakeMessage

__all__ = ["AssistantThread", "Call", "FakeMessage", "FakeSlack", "sign", "signed_headers"]
