"""The hiring channel in Slack: reports of stored evaluations, decisions, transcripts,
notices, and the `/interview` command for hiring managers.

Domain events from the engine (after they are stored) become messages in
BOT_SLACK_HIRING_CHANNEL. Buttons and the command are for people allowed to decide: the
ids in BOT_SLACK_DECIDERS or the members of the hiring channel; anyone else gets an
ephemeral refusal and nothing is recorded.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from functools import partial
from typing import Any

from slack_bolt.app.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack import report_blocks as rb
from adapters.slack.client import call_slack, error_of
from adapters.slack.events import strip_mention
from adapters.slack.resume_share import FileUnavailable, SlackFiles, is_invite_share
from adapters.slack.splitting import FALLBACK_PART_CHARS, split_text
from bot.commands import ACTION_RETRY_EVALUATION
from bot.config import Settings
from bot.domain import Incoming, InputKind, Platform, UserRef
from bot.interview.desk import FAILED_STAGE, HiringDesk, StatusRow, UnknownRole
from bot.ports import (
    ConversationEnded,
    DomainEvent,
    EngineAPI,
    EvaluationStored,
    HandoffRequested,
)
from bot.resume.step import MAX_DOCUMENT_BYTES, DocumentRejected
from bot.resume.types import CleanResume
from bot.retakes import RetakeAttempt, RetakePolicy
from bot.store.api import ConversationStatus
from bot.texts import text

log = logging.getLogger(__name__)

JSONDict = dict[str, Any]
COMMAND = "/interview"
TRANSCRIPT_MESSAGES_MAX = 3  # longer transcripts go up as a file


class HiringChannel:
    def __init__(
        self, settings: Settings, engine: EngineAPI, desk: HiringDesk, client: AsyncWebClient
    ) -> None:
        self.settings, self.engine, self.desk, self.client = settings, engine, desk, client
        self.channel = settings.slack_hiring_channel
        token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else ""
        self.files = SlackFiles(client, token)

    def register(self, app: AsyncApp) -> None:
        app.action(re.compile(f"^{re.escape(rb.ACTION_PREFIX)}"))(self._on_action)
        app.command(COMMAND)(self._on_command)

    # ---- domain events -> the channel ---------------------------------------------------

    async def on_event(self, event: DomainEvent) -> None:
        if not self.channel:
            return
        match event:
            case EvaluationStored(evaluation_id=evaluation_id, ok=True):
                await self.post_report(evaluation_id)
            case EvaluationStored(conversation_id=conversation_id, ok=False):
                body = await self._about(conversation_id, "hiring_evaluation_failed")
                await self._post(rb.failed_evaluation(body, conversation_id))
            case HandoffRequested(conversation_id=conversation_id, reason="human_alternative"):
                await self._post(
                    rb.notice(await self._about(conversation_id, "hiring_human_requested"))
                )
            case ConversationEnded(conversation_id=conversation_id, status="expired"):
                conversation = await self.desk.conversation(conversation_id)
                if conversation.flow == "interview":
                    await self._post(
                        rb.notice(await self._about(conversation_id, "hiring_expired"))
                    )

    async def post_report(self, evaluation_id: int) -> str:
        """Post the report (and its overflow in the thread); the report message's ts."""
        messages = rb.report_messages(await self.desk.report(evaluation_id))
        ts = await self._post(messages.report)
        for part in messages.thread:
            await self._post(part, thread_ts=ts)
        return ts

    async def _about(self, conversation_id: int, key: str) -> str:
        conversation = await self.desk.conversation(conversation_id)
        candidate = await self.desk.candidate_name(conversation)
        role = self.desk.role_title(self.desk.state_of(conversation).role_id or "")
        return text(key, candidate=rb.escape(candidate), role=rb.escape(role))

    async def _post(self, message: rb.SlackMessage, thread_ts: str | None = None) -> str:
        assert self.channel is not None
        response = await call_slack(
            partial(
                self.client.chat_postMessage,
                channel=self.channel,
                thread_ts=thread_ts,
                text=message.text,
                blocks=message.blocks,
            )
        )
        return str(response["ts"])

    # ---- who may decide -----------------------------------------------------------------

    async def may_decide(self, user_id: str) -> bool:
        if user_id in self.settings.slack_deciders:
            return True
        if not self.channel:
            return False
        cursor: str | None = None
        try:
            while True:
                page = await self.client.conversations_members(
                    channel=self.channel, cursor=cursor, limit=200
                )
                if user_id in (page.get("members") or []):
                    return True
                cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
                if cursor is None:
                    return False
        except SlackApiError as failure:  # cannot tell: refuse rather than let anyone decide
            log.warning("slack: conversations.members failed: %s", error_of(failure))
            return False

    # ---- buttons ------------------------------------------------------------------------

    async def _on_action(self, ack: Any, body: JSONDict) -> None:
        await ack()
        action = (body.get("actions") or [{}])[0]
        user = str((body.get("user") or {}).get("id", ""))
        container = body.get("container") or {}
        channel = str(container.get("channel_id") or (body.get("channel") or {}).get("id", ""))
        message_ts = str(container.get("message_ts", ""))
        thread_ts = container.get("thread_ts") or message_ts
        action_id, value = str(action.get("action_id", "")), str(action.get("value", ""))
        if not (user and channel and value.isdigit()):
            return
        if not await self.may_decide(user):
            await self._ephemeral(channel, user, text("hiring_refused"), thread_ts)
            return
        if action_id in rb.DECISION_ACTIONS:
            await self._decide(
                int(value), rb.DECISION_ACTIONS[action_id], user, channel, message_ts
            )
        elif action_id == rb.ACTION_TRANSCRIPT:
            await self._post_transcript(int(value), user, channel, thread_ts)
        elif action_id == rb.ACTION_RETRY:
            await self._retry(int(value), user, channel, message_ts, thread_ts)

    async def _decide(
        self, evaluation_id: int, decision: str, user: str, channel: str, message_ts: str
    ) -> None:
        await self.desk.decide(evaluation_id, decision, user)
        messages = rb.report_messages(await self.desk.report(evaluation_id))
        await call_slack(
            partial(
                self.client.chat_update,
                channel=channel,
                ts=message_ts,
                text=messages.report.text,
                blocks=messages.report.blocks,
            )
        )

    async def _post_transcript(
        self, conversation_id: int, user: str, channel: str, thread_ts: str
    ) -> None:
        conversation = await self.desk.conversation(conversation_id)
        title = text(
            "hiring_transcript_title",
            candidate=await self.desk.candidate_name(conversation),
            role=self.desk.role_title(self.desk.state_of(conversation).role_id or ""),
        )
        turns = await self.desk.transcript(conversation_id, requested_by=user)
        if not turns:
            await self._ephemeral(channel, user, text("hiring_transcript_empty"), thread_ts)
            return
        names = {
            "user": text("hiring_transcript_candidate"),
            "assistant": text("hiring_transcript_interviewer"),
        }
        plain = "\n\n".join(f"{names.get(role, role)}: {said}" for role, said in turns)
        parts = split_text(
            "\n\n".join(f"*{names.get(role, role)}:* {rb.escape(said)}" for role, said in turns),
            FALLBACK_PART_CHARS,
        )
        if len(parts) > TRANSCRIPT_MESSAGES_MAX:
            await self.client.files_upload_v2(
                channel=channel,
                thread_ts=thread_ts,
                content=f"{title}\n\n{plain}\n",
                filename=f"transcript-{conversation_id}.txt",
                title=title,
                initial_comment=title,
            )
            return
        await self._post_in(channel, thread_ts, f"*{rb.escape(title)}*")
        for part in parts:
            await self._post_in(channel, thread_ts, part)

    async def _retry(
        self, conversation_id: int, user: str, channel: str, message_ts: str, thread_ts: str
    ) -> None:
        conversation = await self.desk.conversation(conversation_id)
        waiting = (
            conversation.status is ConversationStatus.ACTIVE
            and self.desk.state_of(conversation).stage == FAILED_STAGE
        )
        if not waiting:  # submitting now would answer the candidate, not retry anything
            await self._ephemeral(channel, user, text("hiring_nothing_to_retry"), thread_ts)
            return
        await self.engine.submit(
            Incoming(
                key=conversation.key,
                user=UserRef(Platform.SLACK, user),
                kind=InputKind.ACTION,
                text="retry",
                action_id=ACTION_RETRY_EVALUATION,
                event_id=f"hiring-retry:{channel}:{message_ts}",  # one retry per notice
            )
        )
        body = await self._about(conversation_id, "hiring_evaluation_failed")
        footer = text("hiring_retry_requested", user=user, at=rb.slack_time(datetime.now(UTC)))
        updated = rb.failed_evaluation(body, conversation_id, footer)
        await call_slack(
            partial(
                self.client.chat_update,
                channel=channel,
                ts=message_ts,
                text=updated.text,
                blocks=updated.blocks,
            )
        )

    async def _post_in(self, channel: str, thread_ts: str, body: str) -> None:
        await call_slack(
            partial(self.client.chat_postMessage, channel=channel, thread_ts=thread_ts, text=body)
        )

    async def _ephemeral(self, channel: str, user: str, body: str, thread_ts: str | None) -> None:
        try:
            await self.client.chat_postEphemeral(
                channel=channel, user=user, text=body, thread_ts=thread_ts
            )
        except SlackApiError as failure:
            log.warning("slack: postEphemeral failed: %s", error_of(failure))

    # ---- /interview ---------------------------------------------------------------------

    async def _on_command(self, ack: Any, command: JSONDict, respond: Any) -> None:
        await ack()  # within Slack's 3 s; the answer goes to response_url
        user = str(command.get("user_id", ""))
        if not await self.may_decide(user):
            await respond(text=text("hiring_refused"), response_type="ephemeral")
            return
        words = str(command.get("text") or "").split()
        verb = words[0].lower() if words else ""
        if verb == "invite" and len(words) >= 2:
            answer = await self._invite(words[1], " ".join(words[2:]), user)
        elif verb == "status":
            policy = RetakePolicy(self.desk.store, self.settings.retake_after_days)
            answer = _status_text(await self.desk.status())
            if retakes := await policy.recent_attempts():
                answer += "\n" + self._retakes_text(retakes)
        else:
            answer = text("hiring_command_usage", roles=self._roles())
        for part in split_text(answer, FALLBACK_PART_CHARS):
            await respond(text=part, response_type="ephemeral")

    # ---- a résumé shared with `@bot invite <role> [name]` (bot messages; see resume_share) --

    def wants_share(self, event: JSONDict, bot_user_id: str | None) -> bool:
        return is_invite_share(event, self.channel, bot_user_id)

    async def on_resume_share(self, event: JSONDict, bot_user_id: str | None) -> None:
        """An invitation with the shared résumé; every refusal makes no invitation."""
        user, channel, ts = str(event["user"]), str(event["channel"]), str(event.get("ts", ""))
        if not await self.may_decide(user):
            await self._ephemeral(channel, user, text("hiring_refused"), ts)
            return
        words = strip_mention(str(event.get("text") or ""), bot_user_id).split()
        files = list(event.get("files") or [])
        if len(words) < 2:
            answer = text("hiring_command_usage", roles=self._roles())
        elif len(files) != 1 or not isinstance(files[0], dict) or not files[0].get("id"):
            answer = text("hiring_resume_one_file")
        else:
            answer = await self._invite_with_file(words[1], " ".join(words[2:]), user, files[0])
        await self._ephemeral(channel, user, answer, ts)

    async def _invite_with_file(self, role: str, candidate: str, user: str, file: JSONDict) -> str:
        try:
            self.desk.find_role(role)  # an unknown role is said before anything is fetched
            resume, filename = await self.files.resume(str(file["id"]))
        except UnknownRole:
            return text("hiring_unknown_role", role=rb.escape(role), roles=self._roles())
        except DocumentRejected as exc:
            log.info("slack: résumé for an invitation refused: %s", exc)
            limit = MAX_DOCUMENT_BYTES // 2**20
            return text(f"hiring_resume_{exc.problem.value}", limit=limit)
        except FileUnavailable:
            return text("hiring_resume_unavailable")
        log.info("slack: résumé attached to an invitation (%d flags)", len(resume.flags))
        answer = await self._invite(role, candidate, user, resume, filename)
        note = "hiring_resume_attached_flagged" if resume.flags else "hiring_resume_attached"
        return f"{answer}\n{text(note, filename=rb.escape(filename))}"

    async def _invite(
        self,
        role: str,
        candidate: str,
        user: str,
        resume: CleanResume | None = None,
        filename: str = "",
    ) -> str:
        try:
            invitation = await self.desk.invite(role, candidate, user, resume, filename)
        except UnknownRole:
            return text("hiring_unknown_role", role=rb.escape(role), roles=self._roles())
        token = invitation.token
        username = (self.settings.telegram_bot_username or "").lstrip("@")
        link = (
            f"https://t.me/{username}?start={token}"
            if username
            else text("hiring_invite_no_link", token=token)
        )
        about = {
            "role": rb.escape(self.desk.role_title(invitation.role)),
            "candidate": f" ({rb.escape(candidate)})" if candidate else "",
            "link": link,
        }
        if invitation.expires_at is None:
            return text("hiring_invite_link", **about)
        expires = rb.slack_time(invitation.expires_at)
        return text("hiring_invite_link_expiring", **about, expires=expires)

    def _retakes_text(self, attempts: list[RetakeAttempt]) -> str:
        lines = [text("hiring_status_retakes")]
        for attempt in attempts:
            role = self.desk.role_title(attempt.role_id)
            refused = text("hiring_status_retake_line", allowed=rb.slack_time(attempt.allowed_from))
            lines.append(
                f"• {rb.escape(attempt.candidate)} · {rb.escape(role)} · {refused}"
                f" · {rb.slack_time(attempt.at)}"
            )
        return "\n".join(lines)

    def _roles(self) -> str:
        return ", ".join(f"`{role_id}`" for role_id in sorted(self.desk.prompts.roles))


def _status_text(rows: list[StatusRow]) -> str:
    if not rows:
        return text("hiring_status_empty")

    def line(row: StatusRow) -> str:
        progress = row.progress
        if row.state == FAILED_STAGE:
            progress = text("hiring_status_failed")
        elif row.state == "awaiting_decision":
            progress = rb.recommendation_label(row.progress)
        return (
            f"• {rb.escape(row.candidate)} · {rb.escape(row.role_title)} · {rb.escape(progress)}"
            f" · {rb.slack_time(row.updated_at)}"
        )

    waiting = [r for r in rows if r.state == "awaiting_decision"]
    running = [r for r in rows if r.state != "awaiting_decision"]
    lines: list[str] = []
    if running:
        lines += [text("hiring_status_in_progress"), *map(line, running)]
    if waiting:
        lines += [text("hiring_status_awaiting"), *map(line, waiting)]
    return "\n".join(lines)
