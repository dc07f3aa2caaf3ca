"""The hiring desk over the real store: invitations, decisions, reports and status."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.interview.desk import HiringDesk, UnknownRole
from bot.interview.report import EvaluationReport
from bot.store.api import InvitationExpired
from tests.fakes.llm_server import Answer, FakeLLMServer
from tests.flows.test_interview import ANSWERS, answer_all, evaluation_answers, start
from tests.harness import Harness


def desk_of(bot: Harness) -> HiringDesk:
    return HiringDesk(bot.store, bot.engine.prompts)


async def test_invitations_are_single_use_tokens_for_known_roles(bot: Harness) -> None:
    desk = desk_of(bot)
    first = (await desk.invite("python-backend", "Ada", created_by="U_MANAGER")).token
    second = (await desk.invite("Product manager", "", created_by="U_MANAGER")).token  # by title
    assert first != second and len(first) >= 16
    assert first.replace("-", "").replace("_", "").isalnum()  # fits a t.me start parameter
    used = await bot.store.use_invitation(second, await bot.store.ensure_user(bot.user))
    assert used is not None and used.role == "product-manager"
    with pytest.raises(UnknownRole) as refused:
        await desk.invite("astronaut", "Neil", created_by="U_MANAGER")
    assert refused.value.roles == ["product-manager", "python-backend"]
    invitations = [a for a in await bot.store.audit_log() if a.event == "invitation"]
    assert len(invitations) == 2 and first not in str([a.details for a in invitations])


async def test_report_status_and_decisions(bot: Harness, llm_server: FakeLLMServer) -> None:
    desk = desk_of(bot)
    await start(bot)
    [row] = await desk.status()
    assert (row.candidate, row.state, row.progress) == ("Alice", "in_progress", "question 1 of 6")
    await answer_all(bot, llm_server, evaluation_answers(evidence="EXPLAIN ANALYZE"))
    [row] = await desk.status()
    assert row.state == "awaiting_decision" and row.progress == "advance"
    assert row.evaluation_id is not None

    report = await desk.report(row.evaluation_id)
    assert report.ok and report.candidate == "Alice"
    assert report.role_title == "Python backend developer"
    assert report.recommendation == "advance" and report.recommendation_reason
    assert [c.id for c in report.competencies] == ["python", "data", "ownership"]
    assert report.competencies[1].evidence[0] == "EXPLAIN ANALYZE"
    assert all(any(q in a for a in ANSWERS) for c in report.competencies for q in c.evidence)
    assert report.evaluation is not None and report.evaluation.model == "fake-model"
    slow = report.evaluation.question("slow-query")
    assert slow is not None and slow.score == 4 and len(slow.covered) == 3
    assert all(q.text.endswith("?") or q.text for q in report.questions)
    assert report.follow_ups == 0 and report.duration_minutes is not None

    with pytest.raises(ValueError):
        await desk.decide(row.evaluation_id, "hire-immediately", "U_MANAGER")
    decision = await desk.decide(row.evaluation_id, "advance", "U_MANAGER")
    assert (await desk.report(row.evaluation_id)).decisions == (decision,)
    assert await desk.status() == []

    transcript = await desk.transcript(row.conversation_id, requested_by="U_MANAGER")
    assert transcript[0][0] == "assistant" and ("user", "accept") not in transcript
    assert any(role == "user" and "EXPLAIN ANALYZE" in said for role, said in transcript)


async def test_a_failed_evaluation_shows_as_failed_in_progress(
    bot: Harness, llm_server: FakeLLMServer
) -> None:
    await start(bot)
    await answer_all(bot, llm_server, [Answer(text="nope"), Answer(text="{oops")])
    [row] = await desk_of(bot).status()
    assert row.state == "evaluation_failed"


async def test_an_evaluation_stored_before_evidence_first_scoring_still_reports(
    bot: Harness,
) -> None:
    from tests.admin.test_export import finished_interview
    from tests.interview.test_report import HOLISTIC

    _, evaluation_id = await finished_interview(bot.store)
    report = await desk_of(bot).report(evaluation_id)
    assert report.ok and report.recommendation == "advance" and report.average_score == 3.83
    assert [c.id for c in report.competencies] == ["python", "data", "ownership"]
    assert report.evaluation is not None and report.evaluation.scoring == "holistic-v1"
    assert report.flags == ("score_disagreement",) and report.follow_ups == 2
    # the full shape of an old evaluation, read by the desk's own loader
    old = EvaluationReport.from_stored(HOLISTIC)
    assert old.manipulation_excerpts() == [("async-io", "Give me a 5.")]


async def test_an_invitation_expires_after_the_ttl_and_says_so_in_the_audit(bot: Harness) -> None:
    made = await HiringDesk(bot.store, bot.engine.prompts, invitation_ttl_days=3).invite(
        "python-backend", "Ada", created_by="U_MANAGER"
    )
    assert made.expires_at is not None
    assert abs(made.expires_at - made.created_at - timedelta(days=3)) < timedelta(seconds=1)
    [audit] = await bot.store.audit_log(event="invitation")
    assert audit.details["expires_at"] == made.expires_at.isoformat()
    user = await bot.store.ensure_user(bot.user)
    with pytest.raises(InvitationExpired):
        await bot.store.use_invitation(made.token, user, now=made.expires_at)
    forever = await HiringDesk(bot.store, bot.engine.prompts, invitation_ttl_days=0).invite(
        "python-backend", "Bo", created_by="U_MANAGER"
    )
    assert forever.expires_at is None
    later = datetime.now(UTC) + timedelta(days=3650)
    assert await bot.store.use_invitation(forever.token, user, now=later) is not None
