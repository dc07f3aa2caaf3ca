"""Reminders, expiry and the retention purge, through the real engine and store; time is
driven by passing `now`, and the scheduler's persistence by restarting it on one database."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from bot.domain import InputKind, utcnow
from bot.interview.idle import IdlePolicy, check_idle_interviews
from bot.jobs import IDLE_CHECK_JOB, RETENTION_PURGE_JOB, Scheduler, purge_old_conversations
from bot.ports import ConversationEnded, DomainEvent
from bot.store.api import ConversationRecord, ConversationStatus, InvitationExpired, Role
from bot.texts import text
from tests.fakes.llm_server import Answer, FakeLLMServer
from tests.harness import Harness
from tests.jobs.conftest import Database

POLICY = IdlePolicy(reminder_after=timedelta(hours=24), expire_after=timedelta(hours=72))
REMINDER = text("interview_reminder", hours=48)
COMPLETE = Answer(json={"missing_star_parts": [], "missing_reference_points": []})


async def start_interview(bot: Harness) -> ConversationRecord:
    await bot.send(kind=InputKind.START, flow="interview", params={"role": "python-backend"})
    await bot.send("accept", kind=InputKind.ACTION, action_id="consent", flow="interview")
    [conversation] = await bot.store.list_conversations(flow="interview")
    assert conversation.state["stage"] == "asking"
    return conversation


async def test_an_idle_candidate_is_reminded_once(jobs_bot: Harness) -> None:
    bot = jobs_bot
    conversation = await start_interview(bot)
    t0 = conversation.updated_at
    quiet = await check_idle_interviews(bot.engine, bot.store, POLICY, now=t0 + timedelta(hours=23))
    assert quiet.reminded == [] and quiet.expired == []
    result = await check_idle_interviews(
        bot.engine, bot.store, POLICY, now=t0 + timedelta(hours=25)
    )
    assert result.reminded == [conversation.id]
    assert bot.seen.texts()[-1] == REMINDER
    again = await check_idle_interviews(bot.engine, bot.store, POLICY, now=t0 + timedelta(hours=30))
    assert again.reminded == [] and again.expired == []
    assert bot.seen.texts().count(REMINDER) == 1
    # stored as the bot's message, in order with the turns; the interview goes on
    history = await bot.store.history(conversation.id)
    assert history[-1].role is Role.ASSISTANT and history[-1].text == REMINDER
    current = await bot.store.get_conversation(conversation.id)
    assert current.status is ConversationStatus.ACTIVE and current.state["stage"] == "asking"
    [entry] = [e for e in await bot.store.audit_log() if e.event == "reminder"]
    assert entry.subject == f"conversation:{conversation.id}" and entry.actor == "bot"


async def test_an_answer_starts_a_new_idle_spell(
    jobs_bot: Harness, llm_server: FakeLLMServer
) -> None:
    bot = jobs_bot
    # real time, tiny durations: the answer really comes after the first reminder
    quick = IdlePolicy(reminder_after=timedelta(microseconds=1), expire_after=timedelta(hours=1))
    conversation = await start_interview(bot)
    assert (await check_idle_interviews(bot.engine, bot.store, quick)).reminded == [conversation.id]
    assert (await check_idle_interviews(bot.engine, bot.store, quick)).reminded == []
    llm_server.enqueue(COMPLETE, Answer(text="Thanks."))
    await bot.send("asyncio suits I/O-bound services with many connections.", flow="interview")
    assert (await check_idle_interviews(bot.engine, bot.store, quick)).reminded == [conversation.id]
    assert bot.seen.texts().count(text("interview_reminder", hours=1)) == 2


async def test_expiry_closes_the_interview_and_tells_the_listeners(jobs_bot: Harness) -> None:
    bot = jobs_bot
    events: list[DomainEvent] = []

    async def listener(event: DomainEvent) -> None:
        events.append(event)

    bot.engine.subscribe(listener)
    conversation = await start_interview(bot)
    t0 = conversation.updated_at
    await check_idle_interviews(bot.engine, bot.store, POLICY, now=t0 + timedelta(hours=25))
    early = await check_idle_interviews(bot.engine, bot.store, POLICY, now=t0 + timedelta(hours=72))
    assert early.expired == []  # 72 h idle, but the reminder was only 47 h ago
    result = await check_idle_interviews(
        bot.engine, bot.store, POLICY, now=t0 + timedelta(hours=73)
    )
    assert result.expired == [conversation.id]
    assert bot.seen.texts()[-1] == text("interview_expired")
    current = await bot.store.get_conversation(conversation.id)
    assert current.status is ConversationStatus.EXPIRED
    assert events == [ConversationEnded(conversation.id, conversation.key, "expired")]
    assert [e.event for e in await bot.store.audit_log()][:2] == ["expiry", "reminder"]
    # nothing more happens to a closed interview
    later = await check_idle_interviews(bot.engine, bot.store, POLICY, now=t0 + timedelta(days=9))
    assert later.reminded == [] and later.expired == []


async def test_idle_while_the_bot_was_down_is_reminded_first_then_expired(
    jobs_bot: Harness,
) -> None:
    bot = jobs_bot
    conversation = await start_interview(bot)
    back = conversation.updated_at + timedelta(hours=100)  # down for four days
    first = await check_idle_interviews(bot.engine, bot.store, POLICY, now=back)
    assert first.reminded == [conversation.id] and first.expired == []
    soon = await check_idle_interviews(bot.engine, bot.store, POLICY, now=back + timedelta(hours=1))
    assert soon.expired == []  # the candidate gets the whole grace period
    late = await check_idle_interviews(
        bot.engine, bot.store, POLICY, now=back + timedelta(hours=48)
    )
    assert late.expired == [conversation.id]


async def test_finished_and_other_flows_are_left_alone(jobs_bot: Harness) -> None:
    bot = jobs_bot
    await bot.send("hello", kind=InputKind.START, flow="support")  # a support conversation
    conversations = await bot.store.list_conversations()
    now = conversations[0].updated_at + timedelta(days=5)
    result = await check_idle_interviews(bot.engine, bot.store, POLICY, now=now)
    assert result.reminded == [] and result.expired == []


async def test_retention_purge_deletes_old_conversations_and_audits_it(
    jobs_bot: Harness,
) -> None:
    bot = jobs_bot
    conversation = await start_interview(bot)
    kept = await purge_old_conversations(
        bot.store, 30, now=conversation.updated_at + timedelta(days=29)
    )
    assert kept == 0 and len(await bot.store.list_conversations()) == 1
    purged = await purge_old_conversations(
        bot.store, 30, now=conversation.updated_at + timedelta(days=31)
    )
    assert purged == 1 and await bot.store.list_conversations() == []
    entries = [e for e in await bot.store.audit_log() if e.event == "retention_purge"]
    assert entries[0].details["conversations"] == 1


async def test_retention_purge_drops_an_expired_unused_invitations_resume(
    jobs_bot: Harness,
) -> None:
    """The daily job, at the time it runs: what an invitation holds about its candidate
    goes once the link has expired, not with the old conversations months later."""
    bot = jobs_bot
    made = await bot.store.create_invitation(
        "tok-cv", "python-backend", "Jane Doe", "U-hr", {"text": "Jane's CV"}, utcnow()
    )
    assert made.expires_at is not None
    await purge_old_conversations(bot.store, 180, now=made.expires_at - timedelta(minutes=1))
    [entry] = [e for e in await bot.store.audit_log() if e.event == "retention_purge"]
    assert entry.details["expired_invitations"] == 0
    await purge_old_conversations(bot.store, 180, now=made.expires_at + timedelta(hours=1))
    entry = next(e for e in await bot.store.audit_log() if e.event == "retention_purge")
    assert entry.details["expired_invitations"] == 1
    user = await bot.store.ensure_user(bot.user)
    with pytest.raises(InvitationExpired) as refused:
        await bot.store.use_invitation("tok-cv", user)
    assert refused.value.invitation.resume is None
    assert refused.value.invitation.candidate_name == ""
    await purge_old_conversations(bot.store, 180, now=made.expires_at + timedelta(days=181))
    assert await bot.store.use_invitation("tok-cv", user) is None  # now gone altogether


async def test_restarting_keeps_the_jobs_and_their_times(
    jobs_bot: Harness, database: Database
) -> None:
    bot = jobs_bot

    def scheduler() -> Scheduler:
        return Scheduler(
            bot.engine,
            bot.store,
            database.url,
            schema=database.schema,
            idle_check_every=timedelta(hours=1),
        )

    first = scheduler()
    await first.start()
    before = {job.id: job.next_run_at for job in first.jobs()}
    await first.stop()
    assert set(before) == {IDLE_CHECK_JOB, RETENTION_PURGE_JOB}
    second = scheduler()  # a new process, the same database
    await second.start()
    try:
        after = {job.id: job.next_run_at for job in second.jobs()}
    finally:
        await second.stop()
    assert after == before  # neither lost nor postponed by the restart


async def test_a_check_missed_while_down_runs_after_restart(
    jobs_bot: Harness, database: Database
) -> None:
    bot = jobs_bot
    quick = IdlePolicy(reminder_after=timedelta(microseconds=1), expire_after=timedelta(hours=1))

    def scheduler() -> Scheduler:
        return Scheduler(
            bot.engine,
            bot.store,
            database.url,
            schema=database.schema,
            policy=quick,
            idle_check_every=timedelta(seconds=0.5),
        )

    await start_interview(bot)
    first = scheduler()
    await first.start()
    [due] = [job.next_run_at for job in first.jobs() if job.id == IDLE_CHECK_JOB]
    await first.stop()  # down before the check was due
    assert due is not None
    # until the check is overdue: a known instant, not a guess
    await asyncio.sleep((due - due.now(due.tzinfo)).total_seconds() + 0.05)
    assert text("interview_reminder", hours=1) not in bot.seen.texts()
    second = scheduler()
    await second.start()
    try:
        await bot.seen.wait_for(lambda: text("interview_reminder", hours=1) in bot.seen.texts())
    finally:
        await second.stop()
