"""Kill campaign: candidates interview through the fake Bot API while the bot process is
killed with SIGKILL at random moments and restarted, as an OOM killer or a node loss would.

`python -m tests.bench.chaos [--candidates 5] [--campaigns 3] [--database sqlite|postgres]`

Figures, not assertions: for every campaign it prints the kills, the candidates who
finished, the replies shown twice, the answers lost (sent by the candidate, never stored
once), the stuck candidates (not done --stuck-after seconds after the kills ended), the interviews graded
other than once and the updates never confirmed. The bot is a real `chatbot run` process
(python-telegram-bot's client, the real store and LLM client); the model is the scripted
judge with a streaming delay, so kills land in every phase of a turn.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import signal
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import text as sql
from sqlalchemy.ext.asyncio import create_async_engine

from bot.store.api import Role
from bot.store.sql import SqlStore
from bot.texts import text
from tests.bench.report import table
from tests.fakes.llm_server import Answer, FakeLLMServer
from tests.fakes.telegram import FakeTelegram
from tests.flows.test_interview import ANSWERS
from tests.interview.judge import Judge, schema_name
from tests.telegram.bot_process import BotProcess

POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432"
COMPLETE = text("interview_complete")


class StreamingJudge:
    """The scripted judge, slowed like a model (time to first token, then a token rate),
    with an acknowledgement that names the answer, so a legitimate repeat cannot pass for
    a duplicate."""

    def __init__(self, ttft: float, token_delay: float) -> None:
        self.judge = Judge()
        self.ttft, self.token_delay = ttft, token_delay

    def __call__(self, body: dict[str, Any]) -> Answer:
        answer = self.judge(body)
        if not schema_name(body):
            last = str(body["messages"][-1]["content"])
            answer = Answer(text=f"Thank you, noted ({uuid.uuid5(uuid.NAMESPACE_OID, last)}).")
        return replace(answer, ttft=self.ttft, token_delay=self.token_delay)


@dataclass
class Campaign:
    kills: int = 0
    finished: int = 0
    stuck: list[int] = field(default_factory=list)
    duplicates: int = 0
    stored_twice: int = 0
    lost: int = 0
    graded_wrong: int = 0
    unconfirmed: int = 0
    seconds: float = 0.0


async def candidate(
    tg: FakeTelegram, chat: int, token: str, stuck_after: float, sent: list[str]
) -> bool:
    """One candidate through consent and six answers (each appended to `sent` once it is
    sent); False when the bot left them waiting."""

    def said(marker: str) -> bool:
        return any(marker in t for t in tg.bot_texts(chat))

    try:
        await tg.send_text(chat, chat, f"/start {token}", language_code="en")
        await tg.wait_for(lambda: any(m.buttons for m in tg.transcript(chat)), timeout=stuck_after)
        consent = next(m for m in tg.transcript(chat) if m.buttons)
        accept = next(
            d for label, d in consent.buttons if label == text("interview_consent_accept")
        )
        await tg.tap(chat, chat, consent.message_id, accept)
        await tg.wait_for(lambda: said("Question 1 of 6:"), timeout=stuck_after)
        for n, answer in enumerate(ANSWERS):
            sent.append(f"{answer} (candidate {chat})")
            await tg.send_text(chat, chat, sent[-1])
            marker = COMPLETE if n == len(ANSWERS) - 1 else f"Question {n + 2} of 6:"
            await tg.wait_for(partial(said, marker), timeout=stuck_after)
    except AssertionError:  # the fake's wait_for: not met in time
        return False
    return True


async def killer(bot: BotProcess, done: asyncio.Event, args: argparse.Namespace) -> int:
    """SIGKILL at random moments for `args.kill_for` seconds (or until every candidate is
    done), restarting the bot at once each time; the number of kills."""
    kills = 0
    rng = random.Random()
    stop_at = time.monotonic() + args.kill_for
    while not done.is_set() and time.monotonic() < stop_at:
        try:
            async with asyncio.timeout(rng.uniform(args.kill_low, args.kill_high)):
                await done.wait()
            break
        except TimeoutError:
            pass
        assert bot.process is not None
        if bot.process.returncode is None:
            bot.process.send_signal(signal.SIGKILL)
            await bot.process.wait()
            kills += 1
        await bot.start()
    return kills


async def audit(
    tg: FakeTelegram, db_url: str, sent: dict[int, list[str]], result: Campaign
) -> None:
    for chat in sent:
        shown = Counter(tg.bot_texts(chat))
        for shown_text, n in shown.items():
            if n > 1:
                result.duplicates += n - 1
                print(f"shown {n} times in chat {chat}: {shown_text[:100]!r}", flush=True)
    store = SqlStore(db_url)
    try:
        conversations = await store.list_conversations(flow="interview")
        stored: dict[int, Counter[str]] = {chat: Counter() for chat in sent}
        for conversation in conversations:
            chat = int(conversation.key.chat_id)
            messages = [
                *await store.history(conversation.id),
                *await store.pending_messages(conversation.id),
            ]
            stored[chat].update(m.text for m in messages if m.role == Role.USER)
            evaluations = len(await store.evaluations_for(conversation.id))
            if any(COMPLETE in t for t in tg.bot_texts(chat)) and evaluations != 1:
                result.graded_wrong += 1
        for chat, answers in sent.items():
            result.lost += sum(1 for a in answers if stored[chat][a] == 0)
            result.stored_twice += sum(stored[chat][a] - 1 for a in answers if stored[chat][a] > 1)
    finally:
        await store.close()
    result.unconfirmed = len(tg.pending_updates())


async def campaign(args: argparse.Namespace, workdir: Path) -> Campaign:
    """One campaign on a database of its own."""
    if args.database == "sqlite":
        return await _campaign(args, workdir, f"sqlite+aiosqlite:///{workdir / 'bot.db'}")
    database = f"chaos_{uuid.uuid4().hex[:8]}"
    admin = create_async_engine(f"{POSTGRES}/test", isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            await connection.execute(sql(f'CREATE DATABASE "{database}"'))
        return await _campaign(args, workdir, f"{POSTGRES}/{database}")
    finally:
        async with admin.connect() as connection:
            await connection.execute(sql(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        await admin.dispose()


async def _campaign(args: argparse.Namespace, workdir: Path, db_url: str) -> Campaign:
    result = Campaign()
    started = time.perf_counter()
    async with FakeTelegram() as tg:
        llm = FakeLLMServer()
        llm.default = StreamingJudge(args.ttft, 1.0 / args.tokens_per_s)
        await llm.start()
        store = SqlStore(db_url)
        try:
            await store.upgrade()
            chats = [8000 + n for n in range(args.candidates)]
            for chat in chats:
                await store.create_invitation(f"inv-{chat}", "python-backend", "Ada", "U-hr")
        finally:
            await store.close()
        bot = BotProcess(tg, llm, db_url, workdir)
        await bot.start()
        done = asyncio.Event()
        kills = asyncio.create_task(killer(bot, done, args))
        sent: dict[int, list[str]] = {chat: [] for chat in chats}
        outcomes = await asyncio.gather(
            *(
                candidate(tg, chat, f"inv-{chat}", args.kill_for + args.stuck_after, sent[chat])
                for chat in chats
            )
        )
        done.set()
        result.kills = await kills
        if bot.process is None or bot.process.returncode is not None:
            await bot.start()
        # let it confirm what it took and deliver what it stored, then stop it cleanly
        await tg.wait_for(lambda: not tg.pending_updates(), timeout=30)
        await asyncio.sleep(2)
        await bot.stop()
        result.finished = sum(outcomes)
        result.stuck = [chat for chat, ok in zip(chats, outcomes, strict=True) if not ok]
        for chat in result.stuck:
            last = [(m.from_bot, m.text[:80]) for m in tg.transcript(chat)[-4:]]
            print(f"stuck: chat {chat}, last messages {last}, logs in {workdir}", flush=True)
        await audit(tg, db_url, sent, result)
        await llm.stop()
    result.seconds = time.perf_counter() - started
    return result


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.chaos")
    parser.add_argument("--candidates", type=int, default=5)
    parser.add_argument("--campaigns", type=int, default=3)
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--kill-low", type=float, default=2.0, help="seconds between kills")
    parser.add_argument("--kill-high", type=float, default=6.0)
    parser.add_argument("--ttft", type=float, default=0.3, help="scripted model, seconds")
    parser.add_argument("--tokens-per-s", type=float, default=40.0)
    parser.add_argument("--kill-for", type=float, default=120.0, help="seconds of kills")
    parser.add_argument(
        "--stuck-after", type=float, default=120.0, help="seconds without progress, kills over"
    )
    parser.add_argument("--keep-logs", action="store_true", help="keep the bot's logs")
    args = parser.parse_args()
    rows: dict[str, float] = {}
    for n in range(1, args.campaigns + 1):
        workdir = Path(tempfile.mkdtemp(prefix=f"chaos-{n}-"))
        result = asyncio.run(campaign(args, workdir))
        if not args.keep_logs:
            shutil.rmtree(workdir)
        rows.update(
            {
                f"#{n} kills": result.kills,
                f"#{n} finished": result.finished,
                f"#{n} stuck": len(result.stuck),
                f"#{n} shown twice": result.duplicates,
                f"#{n} answers stored twice": result.stored_twice,
                f"#{n} answers lost": result.lost,
                f"#{n} graded other than once": result.graded_wrong,
                f"#{n} unconfirmed updates": result.unconfirmed,
                f"#{n} seconds": round(result.seconds, 1),
            }
        )
        print(f"campaign {n}: {result}", flush=True)
    title = (
        f"chaos: {args.candidates} candidates on {args.database}, SIGKILL every "
        f"{args.kill_low:g}-{args.kill_high:g} s for {args.kill_for:g} s, scripted model ({args.ttft:g} s to first "
        f"token, {args.tokens_per_s:g} tokens/s)"
    )
    print(table(title, rows))


if __name__ == "__main__":
    main()
