"""Exports and the audit log, through the real store (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from typer.testing import CliRunner

from bot.cli_admin import admin_app
from bot.domain import ConversationKey, Platform, UserRef
from bot.export import export_interviews, export_user_data, interview_rows, render_interviews
from bot.interview.state import Answer, InterviewState
from bot.store.api import ConversationStatus, NewEvaluation, TurnCommit
from bot.store.sql import SqlStore
from tests.harness import Harness

EVALUATION = {
    "role": "python-backend",
    "recommendation": "advance",
    "average_score": 3.83,
    "competencies": [
        {"id": "python", "score": 4.0},
        {"id": "data", "score": 3.5},
        {"id": "ownership", "score": 4.0},
    ],
    "flags": ["score_disagreement"],
    "follow_ups": 2,
    "duration_minutes": 21.5,
}


async def finished_interview(store: SqlStore, name: str = "Ada Lovelace") -> tuple[int, int]:
    """A candidate with a finished, evaluated interview; returns (user id, evaluation id)."""
    user = UserRef(Platform.TELEGRAM, f"tg-{name}", name)
    user_id = await store.ensure_user(user)
    started = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
    state = InterviewState(
        stage="done",
        role_id="python-backend",
        answers=[Answer(question_id="async-io", text="asyncio for I/O-bound work.")],
        follow_ups={"async-io": 1, "incident": 1},
        started_at=started,
        finished_at=started + timedelta(minutes=21.5),
    ).model_dump(mode="json")
    key = ConversationKey.user_in_chat(Platform.TELEGRAM, f"chat-{name}", user.platform_user_id)
    conversation = await store.create_conversation(key, user_id, "interview", state)
    message = await store.record_user_message(
        conversation.id, kind="text", text="asyncio for I/O-bound work.", user_id=user_id
    )
    assert message is not None
    evaluation_id = await store.commit_turn(
        TurnCommit(
            conversation.id,
            [message.id],
            state,
            ConversationStatus.FINISHED,
            evaluation=NewEvaluation("ok", EVALUATION, "[]", "fake-model", "v1", "r1"),
        )
    )
    assert evaluation_id is not None
    return user_id, evaluation_id


async def test_interview_rows_carry_the_evaluation_and_the_decision(jobs_bot: Harness) -> None:
    store = jobs_bot.store
    _, evaluation_id = await finished_interview(store)
    await store.record_decision(evaluation_id, "advance", "U-manager")
    [row] = await interview_rows(store)
    assert row.candidate == "Ada Lovelace" and row.role == "python-backend"
    assert row.status == "finished" and row.evaluation == "ok"
    assert row.recommendation == "advance" and row.average_score == 3.83
    assert row.competency_scores == {"python": 4.0, "data": 3.5, "ownership": 4.0}
    assert row.flags == ["score_disagreement"] and row.follow_ups == 2
    assert row.duration_minutes == 21.5 and row.decision == "advance"
    assert row.started_at == "2025-03-01T09:00:00+00:00"


async def test_each_format_renders_and_each_export_is_audited(jobs_bot: Harness) -> None:
    store = jobs_bot.store
    await finished_interview(store)
    await finished_interview(store, "=HYPERLINK(evil)")
    as_json = json.loads(await export_interviews(store, "json", "alice"))
    assert [r["candidate"] for r in as_json] == ["Ada Lovelace", "=HYPERLINK(evil)"]
    as_csv = list(csv.DictReader(io.StringIO(await export_interviews(store, "csv", "bob"))))
    assert as_csv[0]["competency_scores"] == "python=4.0; data=3.5; ownership=4.0"
    assert as_csv[1]["candidate"] == "'=HYPERLINK(evil)"  # never a spreadsheet formula
    as_md = (await export_interviews(store, "md", "carol")).splitlines()
    assert as_md[0].startswith("| conversation_id | candidate | platform | role |")
    assert as_md[1].startswith("|---|") and len(as_md) == 4
    exports = [e for e in await store.audit_log() if e.event == "export"]
    assert [(e.actor, e.details["format"], e.details["rows"]) for e in exports] == [
        ("carol", "md", 2),
        ("bob", "csv", 2),
        ("alice", "json", 2),
    ]


def test_markdown_cells_are_escaped() -> None:
    from bot.export import InterviewRow

    row = InterviewRow(
        1, "a|b\nc", "telegram", "r", "active", "asking", None, None, None, "", "", None
    )
    table = render_interviews([row], "md").splitlines()
    assert "| a\\|b c |" in table[2] and len(table) == 3


async def test_a_candidate_exports_their_own_data(jobs_bot: Harness) -> None:
    store = jobs_bot.store
    user_id, evaluation_id = await finished_interview(store)
    await finished_interview(store, "Someone Else")
    await store.record_decision(evaluation_id, "reject", "U-manager")
    data = await export_user_data(store, user_id)
    json.dumps(data)  # JSON-ready as it is
    assert data["user"]["display_name"] == "Ada Lovelace"
    assert [c["flow"] for c in data["conversations"]] == ["interview"]
    assert [m["text"] for m in data["messages"]] == ["asyncio for I/O-bound work."]
    [evaluation] = data["evaluations"]
    assert evaluation["result"]["recommendation"] == "advance"
    assert evaluation["decisions"][0]["decision"] == "reject"
    assert "U-manager" not in json.dumps(data)  # who decided is someone else's data
    [entry] = [e for e in await store.audit_log() if e.event == "export"]
    assert entry.actor == "self" and entry.subject == "tg-Ada Lovelace"
    # erasing the person also pseudonymises the record of their export
    await store.delete_user_data(user_id, requested_by="self")
    assert "tg-Ada Lovelace" not in str(await store.audit_log())


def test_the_cli_exports_to_a_file_and_prints_the_audit_log(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"

    async def seed() -> None:
        store = SqlStore(url)
        try:
            await store.upgrade()
            await finished_interview(store)
        finally:
            await store.close()

    asyncio.run(seed())
    runner = CliRunner()
    env = {"BOT_DATABASE_URL": url}
    out = tmp_path / "interviews.csv"
    exported = runner.invoke(
        admin_app,
        ["export", "interviews", "--format", "csv", "--output", str(out), "--actor", "hr-lead"],
        env=env,
    )
    assert exported.exit_code == 0, exported.output
    assert out.read_text().startswith("conversation_id,candidate,platform,role,status")
    printed = runner.invoke(admin_app, ["export", "interviews", "--format", "md"], env=env)
    assert printed.exit_code == 0 and "| Ada Lovelace |" in printed.stdout
    wrong = runner.invoke(admin_app, ["export", "interviews", "--format", "xml"], env=env)
    assert wrong.exit_code == 2
    audit = runner.invoke(admin_app, ["audit", "--limit", "5"], env=env)
    assert audit.exit_code == 0
    lines = audit.stdout.splitlines()
    assert "export" in lines[0] and "hr-lead" in lines[1] and "evaluation" in lines[2]
