"""Calibration: Cohen's kappa by hand, and the per-role tables over the real store
(SQLite and PostgreSQL) and through `chatbot calibration`."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli_admin import admin_app
from bot.domain import ConversationKey, Platform, UserRef
from bot.interview.calibration import calibration, cohens_kappa, format_calibration
from bot.store.api import ConversationStatus, NewEvaluation, TurnCommit
from bot.store.sql import SqlStore
from tests.harness import Harness


def test_kappa_of_a_hand_computed_table() -> None:
    # 50 items: yes/yes 20, yes/no 5, no/yes 10, no/no 15.
    # p_o = 35/50 = 0.70; p_e = (25/50)(30/50) + (25/50)(20/50) = 0.30 + 0.20 = 0.50;
    # kappa = (0.70 - 0.50) / (1 - 0.50) = 0.40
    pairs = [("yes", "yes")] * 20 + [("yes", "no")] * 5 + [("no", "yes")] * 10 + [("no", "no")] * 15
    assert cohens_kappa(pairs, ("yes", "no")) == pytest.approx(0.40)


def test_kappa_of_three_categories_with_one_unused_by_a_rater() -> None:
    # advance/advance 2, hold/advance 1, reject/reject 1: n = 4, p_o = 3/4;
    # rows (A): advance 2, hold 1, reject 1; columns (B): advance 3, hold 0, reject 1;
    # p_e = (2*3 + 1*0 + 1*1) / 16 = 7/16; kappa = (12/16 - 7/16) / (9/16) = 5/9
    pairs = [("advance", "advance")] * 2 + [("hold", "advance"), ("reject", "reject")]
    assert cohens_kappa(pairs, ("advance", "hold", "reject")) == pytest.approx(5 / 9)


def test_kappa_edges() -> None:
    assert cohens_kappa([], ("a", "b")) is None
    assert cohens_kappa([("a", "a")] * 3, ("a", "b")) is None  # chance agreement certain
    assert cohens_kappa([("a", "a"), ("b", "b")], ("a", "b")) == pytest.approx(1.0)
    assert cohens_kappa([("a", "b"), ("b", "a")], ("a", "b")) == pytest.approx(-1.0)


async def decided_interview(
    store: SqlStore, name: str, role: str, recommendation: str, decision: str | None
) -> int:
    user = UserRef(Platform.TELEGRAM, f"tg-{name}", name)
    user_id = await store.ensure_user(user)
    key = ConversationKey.user_in_chat(Platform.TELEGRAM, f"chat-{name}", user.platform_user_id)
    state = {"stage": "done", "role_id": role}
    conversation = await store.create_conversation(key, user_id, "interview", state)
    data = {"scoring": "evidence-v2", "role": role, "recommendation": recommendation}
    evaluation_id = await store.commit_turn(
        TurnCommit(
            conversation.id,
            [],
            state,
            status=ConversationStatus.FINISHED,
            evaluation=NewEvaluation("ok", data, "{}", "test-model", "v2"),
        )
    )
    assert evaluation_id is not None
    if decision is not None:
        await store.record_decision(evaluation_id, decision, "U_MANAGER")
    return evaluation_id


async def test_tables_per_role_from_the_latest_decision(jobs_bot: Harness) -> None:
    store = jobs_bot.store
    backend = "python-backend"
    await decided_interview(store, "Ada", backend, "advance", "advance")
    await decided_interview(store, "Bo", backend, "advance", "reject")
    changed = await decided_interview(store, "Cy", backend, "hold", "reject")
    await store.record_decision(changed, "needs_review", "U_OTHER")  # the latest one counts
    await decided_interview(store, "Di", backend, "reject", "reject")
    await decided_interview(store, "Ed", backend, "reject", None)  # undecided: not counted
    await decided_interview(store, "Fay", "product-manager", "advance", "advance")

    pm, backend_table = await calibration(store)  # sorted by role
    assert backend_table.role == backend and pm.role == "product-manager"
    assert backend_table.table == {
        ("advance", "advance"): 1,
        ("advance", "reject"): 1,
        ("hold", "hold"): 1,
        ("reject", "reject"): 1,
    }
    assert (backend_table.decided, backend_table.agreed) == (4, 3)
    # rows: advance 2, hold 1, reject 1; columns: advance 1, hold 1, reject 2
    # p_e = (2*1 + 1*1 + 1*2) / 16 = 5/16; kappa = (12/16 - 5/16) / (11/16) = 7/11
    assert backend_table.kappa == pytest.approx(7 / 11)
    assert pm.kappa is None and pm.agreement == 1.0  # one label only: kappa undefined

    printed = format_calibration([backend_table, pm])
    assert "python-backend: 3 of 4 agreed (75%), Cohen's kappa 0.64" in printed
    assert "product-manager: 1 of 1 agreed (100%), Cohen's kappa n/a" in printed


def test_the_cli_prints_calibration(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
    monkeypatch.setenv("BOT_DATABASE_URL", url)
    runner = CliRunner()
    empty = runner.invoke(admin_app, ["calibration"])
    assert empty.exit_code == 0 and "No decided interviews yet" in empty.output

    async def seed() -> None:
        store = SqlStore(url)
        try:
            await store.upgrade()
            await decided_interview(store, "Ada", "python-backend", "advance", "advance")
            await decided_interview(store, "Bo", "python-backend", "reject", "advance")
        finally:
            await store.close()

    asyncio.run(seed())
    result = runner.invoke(admin_app, ["calibration", "--json"])
    assert result.exit_code == 0, result.output
    [row] = json.loads(result.output)
    assert (row["role"], row["decided"], row["agreed"]) == ("python-backend", 2, 1)
    assert row["kappa"] == pytest.approx(0.0)
    assert {"recommendation": "reject", "decision": "advance", "count": 1} in row["table"]
