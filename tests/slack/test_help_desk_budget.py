"""The workspace's chat.update budget, shared by every reply: many replies at once stay
inside Slack's limit and none is held back waiting out a Retry-After."""

from __future__ import annotations

import asyncio

from adapters.slack.budget import EditBudget
from tests.fakes.scripted_engine import ScriptedEngine
from tests.fakes.slack import FakeSlack
from tests.slack.conftest import start_bot
from tests.slack.scripted_engine import streamed

REPLY = "Open the portal, choose Reset password, follow the emailed link, then sign in again."


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_interim_edits_leave_a_reserve_for_final_ones() -> None:
    clock = Clock()
    budget = EditBudget(per_minute=60, burst=4, reserve=2, clock=clock)
    assert [budget.take_interim() for _ in range(3)] == [True, True, False]
    assert budget.take_final() and budget.take_final()
    assert not budget.take_final()  # none left: the caller shows the final another way
    assert budget.interim_wait_s() == 3.0  # three tokens at one a second
    clock.now = 3.0
    assert budget.take_interim()
    budget.rate_limited(retry_after_s=5)
    clock.now = 7.0
    assert not budget.take_final()  # a 429 stops everyone until Retry-After has passed
    clock.now = 9.0
    assert budget.take_final()


async def test_many_inline_dm_replies_stay_inside_the_update_limit(slack: FakeSlack) -> None:
    slack.set_rate_limit("chat.update", 6, 60.0)  # a tight workspace: six edits a minute
    engine = ScriptedEngine(streamed(REPLY, pieces=12, pause_s=0.05))
    adapter, runner, url = await start_bot(slack, engine, slack_dm_replies="inline")
    adapter.renderer.budget = EditBudget(per_minute=5, burst=5, reserve=2)
    try:
        people = [f"U_E{n}" for n in range(8)]
        await asyncio.gather(
            *(
                slack.send_event(url, slack.dm(f"question {n}", user=u, channel=f"D_{u}"))
                for n, u in enumerate(people)
            )
        )

        def answered() -> bool:
            return all([m.text for m in slack.bot_messages(f"D_{u}")] == [REPLY] for u in people)

        await slack.wait_for(answered, timeout=20)
        await engine.idle()
    finally:
        await engine.close()
        await runner.cleanup()
        await adapter.stop()
    assert not [c for c in slack.calls if c.status == 429]  # no reply waited on a 429
    for user in people:  # one message each: no placeholder or partial left behind
        assert [m.text for m in slack.bot_messages(f"D_{user}")] == [REPLY]
    assert len(slack.calls_to("chat.update")) <= 6
    assert adapter.renderer.budget.finals_rerouted >= 1  # some finals went as new messages
