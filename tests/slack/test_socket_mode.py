"""Socket Mode: events over the fake's WebSocket (apps.connections.open), no HTTP route."""

from __future__ import annotations

from adapters.slack import SlackAdapter
from tests.fakes.scripted_engine import ScriptedEngine
from tests.fakes.slack import FakeSlack
from tests.slack.conftest import FAST, settings_for


async def test_socket_mode_event_is_acked_and_answered(
    slack: FakeSlack, engine: ScriptedEngine
) -> None:
    adapter = SlackAdapter(
        settings_for(slack, slack_app_token=slack.app_token, slack_signing_secret=None),
        engine,
        timing=FAST,
    )
    assert adapter.http_routes() == []
    await adapter.start()
    try:
        payload = slack.dm("hi over the socket")
        ack = await slack.send_socket_event(payload)
        assert ack["envelope_id"]
        await slack.wait_for(
            lambda: [m for m in slack.bot_messages_anywhere("D_ALICE") if m.text == "Hello, world."]
        )
        assert [i.text for i in engine.submitted] == ["hi over the socket"]
        assert slack.calls_to("apps.connections.open")
    finally:
        await engine.close()
        await adapter.stop()
