"""Telegram benchmark: concurrent candidates through the real adapter (python-telegram-bot,
long polling) and the fake Bot API with its flood limits on, the real engine, store and LLM
client, and the scripted model. Each answer turn's reply is the model's acknowledgement
(held until complete and vetted to one sentence, so "first visible text" includes
generating it) followed by the next question; we report Bot API calls per streamed reply,
the delay from the model's first token to the first visible text, 429s, throughput, and
lost or duplicated replies.

The model's reply to a turn starts with that turn's tag, so any text of it on screen names
the turn; the tag's first content chunk leaves the scripted server at arrival + ttft + one
token delay (the role chunk comes first), which is the "LLM first token" time here.
"""

from __future__ import annotations

import asyncio
import math
import re
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from adapters.telegram import TelegramAdapter
from bot.config import Settings
from bot.texts import text
from tests.bench.report import percentile
from tests.fakes.llm_server import Answer, FakeLLMServer, split_tokens
from tests.fakes.telegram import FakeTelegram
from tests.harness import harness

TAG = re.compile(r"bench-[a-z]+\d+-t\d+")
FILLER = "lorem ipsum " * 10  # one sentence under the acknowledgement's 160 characters
COMPLETE: dict[str, list[str]] = {
    "missing_star_parts": [],
    "missing_reference_points": [],
}  # no follow-up question
ROLE = "python-backend"
QUESTIONS = 6  # the role's question count: the last answer triggers the evaluation
TURN_TIMEOUT_S = 120.0  # a reply held back by a rate limit is late, not lost
ACCEPT = text("interview_consent_accept")


def reply_text(tag: str) -> str:
    return f"{tag} {FILLER}end-{tag}"


@dataclass
class ScriptedModel:
    """The scripted server's default: streamed requests get a ~100-token reply naming the
    turn; structured (non-streamed) ones, the interview's completeness check, get JSON."""

    ttft: float
    token_delay: float
    first_token_at: dict[str, float] = field(default_factory=dict)
    requests: Counter[str] = field(default_factory=Counter)

    def __call__(self, body: dict[str, Any]) -> Answer:
        if not body.get("stream"):
            return Answer(json=COMPLETE)
        found = TAG.search(str(body["messages"][-1]["content"]))
        tag = found.group(0) if found else "untagged"
        self.requests[tag] += 1
        # the first content chunk follows the role chunk by one token delay
        self.first_token_at.setdefault(tag, time.monotonic() + self.ttft + self.token_delay)
        return Answer(text=reply_text(tag), ttft=self.ttft, token_delay=self.token_delay)

    @property
    def tokens_per_reply(self) -> int:
        return len(split_tokens(reply_text("bench-x0-t0")))


@dataclass
class Turn:
    tag: str
    chat: str  # the chat or channel, as the platform names it
    sent_at: float  # time.monotonic() when the user's message was sent
    answered_at: float | None = None  # when the whole reply was on screen


def first_text_delays_ms(
    turns: Iterable[Turn], model: ScriptedModel, visible_at: Callable[[Turn], float | None]
) -> list[float]:
    delays = []
    for turn in turns:
        shown = visible_at(turn)
        token = model.first_token_at.get(turn.tag)
        if shown is not None and token is not None:
            delays.append((shown - token) * 1000)
    return delays


def delay_figures(prefix: str, delays: list[float], turns: list[Turn]) -> dict[str, float]:
    """First visible text after the model's first token; whole reply after the message."""
    replies = [t.answered_at - t.sent_at for t in turns if t.answered_at is not None]
    return {
        f"{prefix}first_text_p50_ms": percentile(delays, 50),
        f"{prefix}first_text_p99_ms": percentile(delays, 99),
        f"{prefix}reply_done_p50_s": percentile(replies, 50),
        f"{prefix}reply_done_p99_s": percentile(replies, 99),
        f"{prefix}reply_done_max_s": max(replies, default=math.nan),
    }


def count_replies(turns: list[Turn], bot_texts: Callable[[Turn], list[str]]) -> tuple[int, int]:
    """(lost, duplicated): a turn without a complete reply, a reply shown more than once."""
    lost = duplicated = 0
    for turn in turns:
        texts = bot_texts(turn)
        lost += not any(f"end-{turn.tag}" in t for t in texts)
        duplicated += max(0, sum(turn.tag in t for t in texts) - 1)
    return lost, duplicated


def settings_for(tg: FakeTelegram) -> Settings:
    return Settings(
        _env_file=None,
        telegram_token=tg.token,
        telegram_base_url=tg.base_url,
    )


async def start_interview(tg: FakeTelegram, chat: int) -> None:
    """/start with an invitation, accept the consent, wait for the first question."""
    await tg.send_text(chat, chat, f"/start inv-bench-{chat}")
    await tg.wait_for(lambda: any(m.buttons for m in tg.transcript(chat)), timeout=TURN_TIMEOUT_S)
    consent = next(m for m in tg.transcript(chat) if m.buttons)
    accept = next(data for label, data in consent.buttons if label == ACCEPT)
    await tg.tap(chat, chat, consent.message_id, accept)
    await tg.wait_for(
        lambda: any("Question 1 of" in t for t in tg.bot_texts(chat)), timeout=TURN_TIMEOUT_S
    )


def reply_done(tg: FakeTelegram, chat: int, tag: str) -> bool:
    return any(f"end-{tag}" in shown for shown in tg.bot_texts(chat))


async def candidate(tg: FakeTelegram, n: int, chat: int, turns: int, done: list[Turn]) -> None:
    """One candidate's answers: each waits for the previous acknowledgement to be complete."""
    for t in range(turns):
        tag = f"bench-c{n}-t{t}"
        turn = Turn(tag, str(chat), time.monotonic())
        done.append(turn)
        await tg.send_text(chat, chat, f"{tag}: I would profile it first.")
        try:
            await tg.wait_for(partial(reply_done, tg, chat, tag), timeout=TURN_TIMEOUT_S)
        except AssertionError:
            return  # lost: the rest of this candidate's turns are not sent
        turn.answered_at = time.monotonic()


def visible_text_at(tg: FakeTelegram, turn: Turn) -> float | None:
    """When a draft or message carrying this turn's reply first reached Telegram."""
    for call in tg.calls:
        if (
            call.method.lower() in ("sendmessagedraft", "sendmessage")
            and call.status == 200
            and str(call.chat_id) == turn.chat
            and turn.tag in str(call.params.get("text", ""))
        ):
            return call.at
    return None


async def run_telegram_bench(
    candidates: int, turns: int, ttft: float, tokens_per_s: float
) -> dict[str, float]:
    turns = min(turns, QUESTIONS - 1)  # stop before the evaluation: only streamed replies
    model = ScriptedModel(ttft, 1.0 / tokens_per_s)
    done: list[Turn] = []
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        async with (
            FakeLLMServer() as llm,
            FakeTelegram() as tg,
            harness(llm.base_url, url) as bot,
        ):
            llm.default = model
            adapter = TelegramAdapter(settings_for(tg), bot.engine, poll_timeout_s=5)
            await adapter.start()
            try:
                chats = [1000 + n for n in range(candidates)]
                for chat in chats:
                    await bot.store.create_invitation(f"inv-bench-{chat}", ROLE, "Bench", "bench")
                await asyncio.gather(*(start_interview(tg, chat) for chat in chats))
                measured_from = time.monotonic()
                await asyncio.gather(
                    *(candidate(tg, n, chat, turns, done) for n, chat in enumerate(chats))
                )
                elapsed = time.monotonic() - measured_from
                await bot.engine.idle()
            finally:
                await adapter.stop()
            return telegram_figures(
                tg, model, done, chats, candidates * turns, measured_from, elapsed
            )


def telegram_figures(
    tg: FakeTelegram,
    model: ScriptedModel,
    done: list[Turn],
    chats: list[int],
    expected: int,
    measured_from: float,
    elapsed: float,
) -> dict[str, float]:
    replies = max(1, len(done))
    to_chats = [
        c
        for c in tg.calls
        if c.at >= measured_from and c.chat_id in set(chats) and c.method.lower() != "getupdates"
    ]
    by_method = Counter(c.method.lower() for c in to_chats)
    delays = first_text_delays_ms(done, model, lambda turn: visible_text_at(tg, turn))
    lost, duplicated = count_replies(done, lambda turn: tg.bot_texts(int(turn.chat)))
    return {
        "candidates": len(chats),
        "replies": len(done),
        "tokens_per_reply": model.tokens_per_reply,
        "api_calls_per_reply": len(to_chats) / replies,
        "  sendMessageDraft": by_method["sendmessagedraft"] / replies,
        "  sendMessage": by_method["sendmessage"] / replies,
        "  sendChatAction": by_method["sendchataction"] / replies,
        **delay_figures("", delays, done),
        "429s_received": sum(c.status == 429 for c in tg.calls),
        "429s_during_replies": sum(c.status == 429 for c in to_chats),
        "lost": lost + (expected - len(done)),
        "duplicated": duplicated,
        "llm_requests_repeated": sum(n - 1 for n in model.requests.values()),
        "turns_per_s": sum(t.answered_at is not None for t in done) / elapsed,
    }
