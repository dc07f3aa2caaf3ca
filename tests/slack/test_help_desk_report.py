"""`chatbot kb report`: the declined and thumbs-down questions from the bot's database, for
the handbook's owners (text and --json)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from typer.testing import CliRunner

from bot.cli import app
from bot.domain import ConversationKey, Platform, UserRef
from bot.store.api import NewHelpAnswer
from bot.store.feedback import SqlHelpDesk
from bot.store.sql import SqlStore


async def seeded(url: str) -> None:
    store = SqlStore(url)
    try:
        await store.upgrade()
        user_id = await store.ensure_user(UserRef(Platform.SLACK, "U_ALICE"))
        key = ConversationKey.user_in_chat(Platform.SLACK, "D_ALICE", "U_ALICE")
        conversation = await store.create_conversation(key, user_id, "support", {})
        desk = SqlHelpDesk(store)
        await desk.record_answer(
            NewHelpAnswer(conversation.id, "Where is the Mars office?", "sorry", "declined")
        )
        rated = await desk.record_answer(
            NewHelpAnswer(conversation.id, "VPN on Linux?", "Use X [1].", "answered", True)
        )
        await desk.record_feedback(rated, conversation.id, "down", "U_ALICE")
        await desk.record_answer(NewHelpAnswer(conversation.id, "fine one", "a [1]", "answered"))
    finally:
        await store.close()


async def test_report_lists_what_the_handbook_owners_should_read(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
    await seeded(url)
    env = {"BOT_DATABASE_URL": url}
    runner = CliRunner()
    shown = await asyncio.to_thread(runner.invoke, app, ["kb", "report"], env=env)
    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    assert lines[0].startswith("answered 2 (cited 50%), pinned 0, declined 1, escalated 0")
    assert lines[2].split()[2:] == ["thumbs-down", "x1", "VPN", "on", "Linux?"]  # newest first
    assert lines[3].split()[2:] == ["declined", "Where", "is", "the", "Mars", "office?"]
    assert "fine one" not in shown.output

    as_json = await asyncio.to_thread(runner.invoke, app, ["kb", "report", "--json"], env=env)
    report = json.loads(as_json.output)
    assert report["counts"]["feedback_down"] == 1
    assert [q["question"] for q in report["questions"]] == [
        "VPN on Linux?",
        "Where is the Mars office?",
    ]
