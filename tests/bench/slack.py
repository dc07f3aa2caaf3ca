"""Slack benchmark: concurrent employees through the real adapter (slack-bolt over HTTP
events, slack-sdk's Web API client) and the fake Slack with its default rate limits, the
real engine, store and LLM client, and the scripted model. Top-level DMs are answered as
BOT_SLACK_DM_REPLIES says (default: natively streamed in a thread under each message;
inline: chat.postMessage + chat.update in the DM); channel mentions are answered in their
thread with native streaming (chat.startStream / appendStream / stopStream). Figures are
per path.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any

from aiohttp import web

from adapters.slack import SlackAdapter
from bot.config import Settings
from tests.bench.telegram import (
    TURN_TIMEOUT_S,
    ScriptedModel,
    Turn,
    count_replies,
    delay_figures,
    first_text_delays_ms,
)
from tests.fakes.llm_server import FakeLLMServer
from tests.fakes.serving import local_port, serve_local
from tests.fakes.slack import FakeSlack
from tests.harness import harness

HELP_CHANNEL = "C_HELPDESK"  # every mention is in one busy channel, each in its own thread
TEXT_METHODS = ("chat.postMessage", "chat.update", "chat.startStream", "chat.appendStream")


def settings_for(slack: FakeSlack) -> Settings:
    values: dict[str, Any] = {
        "slack_bot_token": slack.bot_token,
        "slack_signing_secret": slack.signing_secret,
        "slack_api_url": slack.api_url,
    }
    return Settings(_env_file=None, **values)


def visible_text_at(slack: FakeSlack, turn: Turn) -> float | None:
    """When a message or stream piece carrying this turn's reply first reached Slack."""
    for call in slack.calls:
        shown = str(call.params.get("markdown_text") or call.params.get("text") or "")
        if call.method in TEXT_METHODS and call.ok and turn.tag in shown:
            return call.at
    return None


def reply_done(slack: FakeSlack, channel: str, thread: str | None, tag: str) -> bool:
    # a DM's replies are at top level (inline) or in the thread under each message
    shown = slack.bot_messages(channel, thread) if thread else slack.bot_messages_anywhere(channel)
    return any(f"end-{tag}" in m.text and not m.streaming for m in shown)


Say = Callable[[str, str | None], Awaitable[str]]  # (text, thread) -> the user's message ts


async def converse(
    slack: FakeSlack,
    who: str,
    channel: str,
    turns: int,
    say: Say,
    done: list[Turn],
    in_thread: bool,
) -> None:
    """One person's turns: each waits for the previous reply to be complete."""
    thread: str | None = None
    for t in range(turns):
        tag = f"bench-{who}-t{t}"
        turn = Turn(tag, channel, time.monotonic())
        done.append(turn)
        ts = await say(f"{tag}: how do I reset my VPN password?", thread)
        if in_thread:
            thread = thread or ts
        try:
            await slack.wait_for(
                partial(reply_done, slack, channel, thread, tag),
                timeout=TURN_TIMEOUT_S,
            )
        except TimeoutError:
            return  # lost: the rest of this person's turns are not sent
        turn.answered_at = time.monotonic()


async def run_slack_bench(
    employees: int, mentions: int, turns: int, ttft: float, tokens_per_s: float
) -> dict[str, float]:
    model = ScriptedModel(ttft, 1.0 / tokens_per_s)
    dm_turns: list[Turn] = []
    thread_turns: list[Turn] = []
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        async with (
            FakeLLMServer() as llm,
            FakeSlack() as slack,
            harness(llm.base_url, url) as bot,
        ):
            llm.default = model
            adapter = SlackAdapter(settings_for(slack), bot.engine)
            await adapter.start()
            app = web.Application()
            app.add_routes(adapter.http_routes())
            runner = await serve_local(app)
            events_url = f"http://127.0.0.1:{local_port(runner)}/slack/events"
            try:

                def dm_sender(n: int) -> Say:
                    async def say(body: str, thread: str | None) -> str:
                        payload = slack.dm(body, user=f"U_E{n}", channel=f"D_E{n}")
                        await slack.send_event(events_url, payload)
                        return str(payload["event"]["ts"])

                    return say

                def mention_sender(n: int) -> Say:
                    async def say(body: str, thread: str | None) -> str:
                        message, mention = slack.mention(
                            body, user=f"U_M{n}", channel=HELP_CHANNEL, thread_ts=thread
                        )
                        await slack.send_event(events_url, message)
                        await slack.send_event(events_url, mention)
                        return str(mention["event"]["ts"])

                    return say

                measured_from = time.monotonic()
                await asyncio.gather(
                    *(
                        converse(slack, f"e{n}", f"D_E{n}", turns, dm_sender(n), dm_turns, False)
                        for n in range(employees)
                    ),
                    *(
                        converse(
                            slack,
                            f"m{n}",
                            HELP_CHANNEL,
                            turns,
                            mention_sender(n),
                            thread_turns,
                            True,
                        )
                        for n in range(mentions)
                    ),
                )
                elapsed = time.monotonic() - measured_from
                await bot.engine.idle()
            finally:
                await runner.cleanup()
                await adapter.stop()
            dms = path_figures(slack, model, dm_turns, employees * turns, "dm_")
            threads = path_figures(slack, model, thread_turns, mentions * turns, "thread_")
            answered = sum(t.answered_at is not None for t in dm_turns + thread_turns)
            return {
                "employees_dm": employees,
                "channel_threads": mentions,
                "tokens_per_reply": model.tokens_per_reply,
                **dms,
                **threads,
                "429s_received": sum(c.status == 429 for c in slack.calls),
                "turns_per_s": answered / elapsed,
                "llm_requests_repeated": sum(n - 1 for n in model.requests.values()),
            }


def path_figures(
    slack: FakeSlack, model: ScriptedModel, turns: list[Turn], expected: int, prefix: str
) -> dict[str, float]:
    """One path's figures: the calls to its channels during the run, per reply."""
    channels = {turn.chat for turn in turns}
    calls = [
        c
        for c in slack.calls
        if (c.params.get("channel") or c.params.get("channel_id")) in channels
    ]
    replies = max(1, len(turns))
    by_method = Counter(c.method for c in calls)
    figures: dict[str, float] = {
        f"{prefix}replies": len(turns),
        f"{prefix}api_calls_per_reply": len(calls) / replies,
    }
    for method in sorted(by_method):
        figures[f"  {prefix}{method.removeprefix('chat.')}"] = by_method[method] / replies
    delays = first_text_delays_ms(turns, model, lambda turn: visible_text_at(slack, turn))
    bot_texts = [m.text for m in slack.workspace.messages if m.bot_id and not m.streaming]
    lost, duplicated = count_replies(turns, lambda turn: bot_texts)
    return {
        **figures,
        **delay_figures(prefix, delays, turns),
        f"{prefix}429s": sum(c.status == 429 for c in calls),
        f"{prefix}lost": lost + (expected - len(turns)),
        f"{prefix}duplicated": duplicated,
    }
