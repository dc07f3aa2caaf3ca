"""The retake rule through the engine, on SQLite and PostgreSQL: one interview per candidate
and role within BOT_RETAKE_AFTER_DAYS unless the hiring team invites them again."""

from __future__ import annotations

from dataclasses import replace

from bot.domain import InputKind, Platform, UserRef
from bot.retakes import RETAKE_REFUSED, RetakePolicy
from bot.store.api import ConversationStatus, InvitationRecord
from bot.texts import text
from tests.harness import Harness

ROLE = "python-backend"
REFUSED_EN = text("interview_retake_refused", "en")


async def take_interview(bot: Harness, role: str = ROLE, **params: str) -> int:
    """Start, consent (the first question is shown), then end it as the flow would."""
    await bot.send(kind=InputKind.START, flow="interview", params={"role": role, **params})
    await bot.send("accept", kind=InputKind.ACTION, action_id="consent", flow="interview")
    conversation = await bot.store.active_conversation(bot.key)
    assert conversation is not None and conversation.state["stage"] != "consent"
    await bot.store.set_conversation_status(conversation.id, ConversationStatus.FINISHED)
    return conversation.id


async def interviews(bot: Harness) -> list[int]:
    return [c.id for c in await bot.store.list_conversations(flow="interview")]


async def invite(bot: Harness, token: str, role: str = ROLE) -> InvitationRecord:
    return await bot.store.create_invitation(token, role, "Alice", "U_MANAGER")


async def test_a_retake_of_the_same_role_is_refused_politely_and_audited(
    jobs_bot: Harness,
) -> None:
    first = await take_interview(jobs_bot)
    await jobs_bot.send(kind=InputKind.START, flow="interview", params={"role": ROLE})
    assert jobs_bot.seen.texts()[-1] == REFUSED_EN
    assert await interviews(jobs_bot) == [first]  # nothing new was started
    [entry] = await jobs_bot.store.audit_log(event=RETAKE_REFUSED)
    assert entry.subject == f"role:{ROLE}" and entry.details["previous_conversation"] == first
    assert "Alice" not in str(entry)  # the name is looked up when shown, never audited

    [attempt] = await RetakePolicy(jobs_bot.store, 180).recent_attempts()
    assert (attempt.candidate, attempt.role_id, attempt.previous_conversation_id) == (
        "Alice",
        ROLE,
        first,
    )
    assert (attempt.allowed_from - attempt.at).days in (179, 180)


async def test_another_role_and_another_candidate_may_start(jobs_bot: Harness) -> None:
    first = await take_interview(jobs_bot)
    await jobs_bot.send(kind=InputKind.START, flow="interview", params={"role": "product-manager"})
    bob = replace(jobs_bot, user=UserRef(Platform.CONSOLE, "bob", "Bob"))
    await bob.send(kind=InputKind.START, flow="interview", params={"role": ROLE})
    assert REFUSED_EN not in jobs_bot.seen.texts()
    assert len(await interviews(jobs_bot)) == 3 and first in await interviews(jobs_bot)
    assert await jobs_bot.store.audit_log(event=RETAKE_REFUSED) == []


async def test_a_new_invitation_allows_a_retake_but_an_older_one_does_not(
    jobs_bot: Harness,
) -> None:
    await invite(jobs_bot, "old-invitation-token")  # sent before the first interview
    first = await take_interview(jobs_bot)
    params = {"invitation": "old-invitation-token"}
    await jobs_bot.send(kind=InputKind.START, flow="interview", params=params)
    assert jobs_bot.seen.texts()[-1] == REFUSED_EN
    assert await interviews(jobs_bot) == [first]

    await invite(jobs_bot, "new-invitation-token")  # the hiring team invites again
    params = {"invitation": "new-invitation-token"}
    await jobs_bot.send(kind=InputKind.START, flow="interview", params=params)
    assert jobs_bot.seen.texts()[-1] != REFUSED_EN
    assert len(await interviews(jobs_bot)) == 2
    [entry] = await jobs_bot.store.audit_log(event=RETAKE_REFUSED)
    assert entry.details["invitation"] is True


async def test_declining_consent_is_not_an_interview_taken(jobs_bot: Harness) -> None:
    await jobs_bot.send(kind=InputKind.START, flow="interview", params={"role": ROLE})
    declined = await jobs_bot.store.active_conversation(jobs_bot.key)
    assert declined is not None and declined.state["stage"] == "consent"
    await jobs_bot.store.set_conversation_status(declined.id, ConversationStatus.CANCELLED)
    await take_interview(jobs_bot)
    assert REFUSED_EN not in jobs_bot.seen.texts()


async def test_a_chinese_candidate_is_refused_in_chinese(jobs_bot: Harness) -> None:
    chen = replace(jobs_bot, user=UserRef(Platform.CONSOLE, "chen", "陈", locale="zh-CN"))
    await take_interview(chen)
    await chen.send(kind=InputKind.START, flow="interview", params={"role": ROLE})
    assert chen.seen.texts()[-1] == text("interview_retake_refused", "zh")


async def test_a_zero_day_window_never_refuses(jobs_bot: Harness) -> None:
    first = await take_interview(jobs_bot)
    policy = RetakePolicy(jobs_bot.store, 0)
    user_id = await jobs_bot.store.ensure_user(jobs_bot.user)
    assert await policy.refusal(user_id, ROLE, None) is None
    year = RetakePolicy(jobs_bot.store, 365)
    previous = await year.previous_interview(user_id, ROLE)
    assert previous is not None and previous.id == first


async def test_restarting_an_interview_under_way_with_other_parameters_is_refused(
    jobs_bot: Harness,
) -> None:
    await jobs_bot.send(kind=InputKind.START, flow="interview", params={"role": ROLE})
    await jobs_bot.send("accept", kind=InputKind.ACTION, action_id="consent", flow="interview")
    under_way = await jobs_bot.store.active_conversation(jobs_bot.key)
    assert under_way is not None
    params = {"role": ROLE, "lang": "zh"}
    await jobs_bot.send(kind=InputKind.START, flow="interview", params=params)
    assert jobs_bot.seen.texts()[-1] == REFUSED_EN
    still = await jobs_bot.store.active_conversation(jobs_bot.key)
    assert still is not None and still.id == under_way.id  # the progress is kept


async def test_a_role_picked_from_the_menu_follows_the_same_rule(jobs_bot: Harness) -> None:
    first = await take_interview(jobs_bot)
    await jobs_bot.send(kind=InputKind.START, flow="interview")  # no role: the menu
    await jobs_bot.send(ROLE, kind=InputKind.ACTION, action_id="role", flow="interview")
    assert jobs_bot.seen.texts()[-1] == REFUSED_EN
    menu = await jobs_bot.store.active_conversation(jobs_bot.key)
    assert menu is not None and menu.id != first
    assert menu.state["stage"] == "choose_role"  # still choosing: another role may be picked
    [entry] = await jobs_bot.store.audit_log(event=RETAKE_REFUSED)
    assert entry.details["previous_conversation"] == first

    await jobs_bot.send("product-manager", kind=InputKind.ACTION, action_id="role")
    chosen = await jobs_bot.store.active_conversation(jobs_bot.key)
    assert chosen is not None and chosen.state["stage"] == "consent"
    assert chosen.state["role_id"] == "product-manager"
