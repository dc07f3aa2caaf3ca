"""Renders one turn's `Output` stream into a Slack conversation.

Where to write: chat_id is the channel, thread_id the thread ts. Threads (channel
mentions, assistant threads) get native streaming. A top-level DM conversation has no
thread in its key: with BOT_SLACK_DM_REPLIES=thread its replies are streamed in a thread
under the message they answer (`ReplyThreads`, from the adapter); inline, or when that is
not known (after a restart), they go to the DM's main view, where there is no thread to
stream into and the chat.postMessage + chat.update fallback writes them.
"""

from __future__ import annotations

import contextlib
import logging
from collections import OrderedDict, defaultdict, deque
from collections.abc import AsyncIterator
from functools import partial
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.budget import APPEND_BURST, APPENDS_PER_MINUTE, EditBudget
from adapters.slack.client import call_slack, call_with_markdown, error_of
from adapters.slack.dm_threads import ReplyThreads
from adapters.slack.events import ACTION_PREFIX
from adapters.slack.reply_marks import Identity, Mark, Marker, find_mark, marked
from adapters.slack.splitting import FALLBACK_PART_CHARS, split_text
from adapters.slack.streaming import (
    EditedReply,
    NativeStream,
    StreamTiming,
    Target,
)
from adapters.stream_driver import drive
from bot.domain import (
    Buttons,
    ConversationKey,
    Handoff,
    Message,
    Output,
    Report,
    Sources,
    TextDelta,
    TextDone,
    Thinking,
)
from bot.ports import Delivery, Shown
from bot.texts import text

log = logging.getLogger(__name__)


SECTION_MAX_CHARS = 3_000
# startStream refusals that hold for the whole workspace: stop trying after one.
PERMANENTLY_UNAVAILABLE = frozenset(
    {
        "unknown_method",
        "method_not_supported",
        "not_allowed",
        "not_allowed_token_type",
        "feature_not_enabled",
        "method_deprecated",
        "missing_scope",
    }
)


Writer = NativeStream | EditedReply


class SlackRenderer:
    def __init__(
        self,
        client: AsyncWebClient,
        timing: StreamTiming | None = None,
        interim: AsyncWebClient | None = None,
        budget: EditBudget | None = None,
        dm_threads: ReplyThreads | None = None,
    ) -> None:
        self.client = client
        self.dm_threads = dm_threads  # None: top-level DMs are answered inline
        self.identity = Identity()  # set from auth.test by the adapter: whose posts count
        self.interim = interim or client
        self.timing = timing or StreamTiming()
        self.native_streaming = True
        self.channel_status = True  # setStatus in channel threads (chat:write apps, 2026-03)
        self._placeholders: dict[Target, str] = {}  # a turn's "thinking" message, by target
        self.budget = budget or EditBudget()  # chat.update: one budget for every reply
        self.appends = EditBudget(APPENDS_PER_MINUTE, APPEND_BURST)  # chat.appendStream: one too
        # Who asked in a channel thread: startStream there needs the recipient. A hint only
        # (lost on restart: the reply then uses the chat.update fallback).
        self._recipients: OrderedDict[ConversationKey, tuple[str, str]] = OrderedDict()
        # Previewed replies waiting for their delivery, per conversation, oldest first.
        self._kept: defaultdict[ConversationKey, deque[Writer]] = defaultdict(
            lambda: deque(maxlen=8)
        )

    def remember_recipient(self, key: ConversationKey, user_id: str, team_id: str) -> None:
        self._recipients[key] = (user_id, team_id)
        self._recipients.move_to_end(key)
        while len(self._recipients) > 4096:
            self._recipients.popitem(last=False)

    def target_of(self, key: ConversationKey) -> Target:
        direct = key.chat_id.startswith("D")
        recipient = self._recipients.get(key)
        if recipient is None and direct and key.user_id != "*":
            recipient = (key.user_id, "")
        thread_ts = key.thread_id
        if direct and not thread_ts and self.dm_threads is not None:
            thread_ts = self.dm_threads.thread_of(key) or ""  # the bot's reply thread
        return Target(
            channel=key.chat_id,
            thread_ts=thread_ts,
            assistant=direct and bool(key.thread_id),
            recipient_user_id=recipient[0] if recipient else None,
            recipient_team_id=(recipient[1] or None) if recipient else None,
        )

    async def __call__(self, key: ConversationKey, outputs: AsyncIterator[Output]) -> None:
        await drive(outputs, _SlackTurn(self, self.target_of(key)))

    # ---- with the outbox (bot.ports.Deliverer) -------------------------------------------

    async def preview(self, key: ConversationKey, outputs: AsyncIterator[Output]) -> None:
        """Status line and the stream while the turn runs; a finished reply's writer is
        kept open for `deliver`, which stops the stream (or posts afresh after a restart)."""
        await drive(outputs, _SlackTurn(self, self.target_of(key), keep=self._kept[key]))

    async def deliver(
        self, key: ConversationKey, output: Output, delivery: Delivery | None = None
    ) -> Shown:
        """An outbox reply is marked with its row (adapters/slack/reply_marks.py); when an
        earlier attempt may have posted it, what it left is looked for first."""
        target = self.target_of(key)
        kept = self._kept.get(key)
        marker: Marker | None = None
        if delivery is not None:
            found = await self._found(target, delivery) if delivery.retried else None
            if found is not None and found.whole:
                if kept and isinstance(output, TextDone):
                    kept.popleft()  # its preview was finished by the attempt that posted it
                if kept is not None and not kept:
                    del self._kept[key]
                return Shown.EARLIER
            marker = Marker(delivery.outbox_id, found.part + 1 if found is not None else 0)
        match output:
            case TextDone(text=final) if kept:
                await kept[0].finish(final, marker.metadata(0, 1) if marker else None)
                self.note_streaming(kept.popleft())  # popped once Slack took it
            case TextDone(text=final) if final.strip():
                await self.post_text(target, final, marker)
            case Message(text=body):
                await self.post_text(target, body, marker)
            case Buttons():
                await self.post_buttons(target, output, marker)
            case Sources() if output.items:
                await self.post_sources(target, output, marker)
        if kept is not None and not kept:
            del self._kept[key]
        return Shown.NOW

    async def _found(self, target: Target, delivery: Delivery) -> Mark | None:
        """What an earlier attempt left of this reply; None when nothing, or when the
        lookup fails: then the reply is posted, a possible duplicate rather than a loss."""
        try:
            found = await find_mark(
                self.interim,
                target,
                delivery.outbox_id,
                delivery.since,
                self.identity,
                dm_threads=self.dm_threads is not None and target.channel.startswith("D"),
            )
        except Exception as failure:  # noqa: BLE001 - any failure: post rather than lose it
            detail = error_of(failure) if isinstance(failure, SlackApiError) else repr(failure)
            log.warning(
                "slack: could not look for reply %s from an earlier attempt (%s); posting it",
                delivery.outbox_id,
                detail,
            )
            return None
        if found is not None:
            log.info(
                "slack: reply %s found in %s up to part %d of %d",
                delivery.outbox_id,
                target.channel,
                found.part + 1,
                found.parts,
            )
        return found

    def new_writer(self, target: Target) -> Writer:
        placeholder = self._placeholders.pop(target, None)
        if placeholder is not None:  # the "thinking" message becomes the reply
            adopted = [(placeholder, text("slack_placeholder"))]
            return EditedReply(
                self.client,
                target,
                self.timing,
                interim=self.interim,
                adopted=adopted,
                budget=self.budget,
            )
        if target.thread_ts and self.native_streaming:
            return NativeStream(self.client, target, self.timing, self.budget, self.appends)
        return EditedReply(
            self.client, target, self.timing, interim=self.interim, budget=self.budget
        )

    async def show_thinking(self, target: Target, status: str, writer: Writer | None) -> None:
        """A sign of work before the first token: the thread's status line where there is
        a thread (assistant threads, and channel threads for apps with chat:write), else a
        placeholder message that the reply then replaces (a top-level DM)."""
        if writer is not None or target in self._placeholders:
            return
        if target.thread_ts and await self.set_status(target, status):
            return
        try:
            response = await call_slack(
                partial(
                    self.client.chat_postMessage,
                    channel=target.channel,
                    thread_ts=target.thread_ts or None,
                    markdown_text=text("slack_placeholder"),
                ),
                attempts=1,
            )
        except SlackApiError as failure:  # a nicety: the reply still comes
            log.info("slack: no placeholder: %s", error_of(failure))
            return
        self._placeholders[target] = str(response["ts"])

    async def _replace_placeholder(
        self, target: Target, body: str, mark: dict[str, Any] | None = None
    ) -> bool:
        placeholder = self._placeholders.pop(target, None)
        if placeholder is None or len(body) > FALLBACK_PART_CHARS:
            if placeholder is not None:
                self._placeholders[target] = placeholder
            return False
        if not self.budget.take_final():  # no edit left: a new message, the placeholder gone
            with contextlib.suppress(SlackApiError):
                await self.client.chat_delete(channel=target.channel, ts=placeholder)
            return False
        await call_with_markdown(
            self.client.chat_update, body, channel=target.channel, ts=placeholder, **(mark or {})
        )
        return True

    def note_streaming(self, writer: Writer) -> None:
        if isinstance(writer, NativeStream) and writer.unavailable in PERMANENTLY_UNAVAILABLE:
            self.native_streaming = False

    async def set_status(self, target: Target, status: str) -> bool:
        if not target.assistant and not self.channel_status:
            return False
        try:
            await self.client.assistant_threads_setStatus(
                channel_id=target.channel, thread_ts=target.thread_ts, status=status
            )
        except SlackApiError as failure:  # a status line is a nicety, never worth a failed turn
            log.info("slack: setStatus failed: %s", error_of(failure))
            if not target.assistant and error_of(failure) in PERMANENTLY_UNAVAILABLE:
                self.channel_status = False  # an older app (assistant:write only): placeholders
            return False
        return True

    async def post_text(
        self, target: Target, body: str, marker: Marker | None = None, *, then: int = 0
    ) -> None:
        """`body` in parts, each marked `i` of `len(parts) + then` (`then`: parts of the
        same reply that follow, as buttons do); parts found shown already are skipped."""
        parts = split_text(body, FALLBACK_PART_CHARS)
        total = len(parts) + then
        single = marked(marker, 0, total) if total == 1 else None
        first = marker is None or marker.wants(0)
        if first and await self._replace_placeholder(target, body, single):
            return  # the "thinking" message says it
        for index, part in enumerate(parts):
            if marker is not None and not marker.wants(index):
                continue
            await call_with_markdown(
                self.client.chat_postMessage,
                part,
                channel=target.channel,
                thread_ts=target.thread_ts or None,
                **marked(marker, index, total),
            )

    async def post_sources(
        self, target: Target, sources: Sources, marker: Marker | None = None
    ) -> None:
        """The cited documents as a context block under the answer, linked when they have
        a URL (a file path on the bot's server is shown as a title only)."""
        entries = [
            f"<{url}|[{n}] {_mrkdwn_escape(title)}>" if url else f"[{n}] {_mrkdwn_escape(title)}"
            for n, title, url in sources.links()
        ]
        heading = f"*{text('kb_sources', sources.lang)}:*"
        elements = [{"type": "mrkdwn", "text": part[:3000]} for part in [heading, *entries][:10]]
        await call_slack(
            partial(
                self.client.chat_postMessage,
                channel=target.channel,
                thread_ts=target.thread_ts or None,
                text=" ".join([heading, *entries]),
                blocks=[{"type": "context", "elements": elements}],
                **marked(marker, 0, 1),
            )
        )

    async def post_buttons(
        self, target: Target, buttons: Buttons, marker: Marker | None = None
    ) -> None:
        placeholder = self._placeholders.pop(target, None)
        if placeholder is not None:  # buttons are a message of their own: no "thinking" left
            with contextlib.suppress(SlackApiError):
                await self.client.chat_delete(channel=target.channel, ts=placeholder)
        body, part, parts = buttons.text, 0, 1
        if len(body) > SECTION_MAX_CHARS:  # too long for a section block: text first
            await self.post_text(target, body, marker, then=1)
            part = len(split_text(body, FALLBACK_PART_CHARS))
            body, parts = "", part + 1
        if marker is not None and not marker.wants(part):
            return
        blocks = _button_blocks(body, buttons)
        await call_slack(
            partial(
                self.client.chat_postMessage,
                channel=target.channel,
                thread_ts=target.thread_ts or None,
                text=body or " ".join(b.label for b in buttons.buttons),
                blocks=blocks,
                **marked(marker, part, parts),
            )
        )


def _mrkdwn_escape(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _button_blocks(body: str, buttons: Buttons) -> list[dict[str, Any]]:
    elements: list[dict[str, Any]] = []
    for button in buttons.buttons:
        element: dict[str, Any] = {
            "type": "button",
            "text": {"type": "plain_text", "text": button.label[:75], "emoji": True},
            "action_id": f"{ACTION_PREFIX}{button.action_id}",
        }
        if button.value:
            element["value"] = button.value
        if button.style in ("primary", "danger"):
            element["style"] = button.style
        elements.append(element)
    blocks: list[dict[str, Any]] = []
    if body:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": body}})
    blocks.append({"type": "actions", "block_id": "flow_buttons", "elements": elements})
    return blocks


class _SlackTurn:
    """The Slack `TurnView` for `adapters.stream_driver.drive`: one writer at a time."""

    def __init__(
        self, renderer: SlackRenderer, target: Target, keep: deque[Writer] | None = None
    ) -> None:
        self.renderer = renderer
        self.target = target
        self.writer: Writer | None = None
        self.keep = keep  # preview mode: finished replies are kept for `deliver`

    def live(self) -> Writer | None:
        return self.writer

    async def finish(self) -> None:
        writer, self.writer = self.writer, None
        if writer is not None and self.keep is not None:
            await writer.finish(writer.text)  # nothing stored: close what was shown as it is
        elif writer is not None:  # the stream ended without TextDone
            await writer.finish(writer.text)

    async def close(self) -> None:
        return None

    async def show(self, item: Output) -> None:
        renderer, target = self.renderer, self.target
        if self.keep is not None and isinstance(item, TextDone | Message | Buttons | Sources):
            writer, self.writer = self.writer, None
            if isinstance(item, TextDone) and writer is not None:
                self.keep.append(writer)
            return
        match item:
            case Thinking(status=status):
                await renderer.show_thinking(target, status or text("slack_thinking"), self.writer)
            case TextDelta(text=delta):
                self.writer = self.writer or renderer.new_writer(target)
                self.writer.add(delta)
            case TextDone(text=final):
                writer, self.writer = self.writer or renderer.new_writer(target), None
                await writer.finish(final)
                renderer.note_streaming(writer)
            case Message(text=body):
                await renderer.post_text(target, body)
            case Buttons():
                await renderer.post_buttons(target, item)
            case Sources() if item.items:
                await renderer.post_sources(target, item)
            case Report() | Handoff():
                log.debug("slack: %s is handled by the domain-event listeners", type(item).__name__)
