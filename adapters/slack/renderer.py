"""Renders one turn's `Output` stream into a Slack conversation.

Where to write comes from the key alone: chat_id is the channel, thread_id the thread ts
("" for a top-level DM). Top-level DMs have no thread to stream into (startStream needs a
thread_ts, and a DM chat should not turn into threads), so they get the chat.postMessage +
chat.update fallback; threads (channel mentions, assistant threads) get native streaming.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import partial
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.client import call_slack, error_of
from adapters.slack.events import ACTION_PREFIX
from adapters.slack.splitting import FALLBACK_PART_CHARS, split_text
from adapters.slack.streaming import (
    EditedReply,
    NativeStream,
    StreamTiming,
    Target,
)
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


@dataclass(frozen=True, slots=True)
class _End:
    error: BaseException | None = None


Writer = NativeStream | EditedReply


class SlackRenderer:
    def __init__(
        self,
        client: AsyncWebClient,
        timing: StreamTiming | None = None,
        interim: AsyncWebClient | None = None,
    ) -> None:
        self.client = client
        self.interim = interim or client
        self.timing = timing or StreamTiming()
        self.native_streaming = True
        # Who asked in a channel thread: startStream there needs the recipient. A hint only
        # (lost on restart: the reply then uses the chat.update fallback).
        self._recipients: OrderedDict[ConversationKey, tuple[str, str]] = OrderedDict()

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
        return Target(
            channel=key.chat_id,
            thread_ts=key.thread_id,
            assistant=direct and bool(key.thread_id),
            recipient_user_id=recipient[0] if recipient else None,
            recipient_team_id=(recipient[1] or None) if recipient else None,
        )

    async def __call__(self, key: ConversationKey, outputs: AsyncIterator[Output]) -> None:
        target = self.target_of(key)
        queue: asyncio.Queue[Output | _End] = asyncio.Queue()
        pump = asyncio.create_task(_pump(outputs, queue))
        writer: Writer | None = None
        try:
            while True:
                due = writer.due_in() if writer is not None else None
                if not queue.empty():
                    item = queue.get_nowait()
                elif writer is not None and due is not None and due <= 0:
                    await writer.flush()
                    continue
                else:
                    try:
                        item = await asyncio.wait_for(queue.get(), due)
                    except TimeoutError:
                        continue  # a flush is due: the loop does it
                if isinstance(item, _End):
                    if writer is not None:  # the stream ended without TextDone
                        await writer.finish(writer.text)
                    if item.error is not None:
                        raise item.error
                    return
                writer = await self._render(target, item, writer)
        finally:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump

    async def _render(self, target: Target, item: Output, writer: Writer | None) -> Writer | None:
        match item:
            case Thinking(status=status):
                await self._set_status(target, status or text("slack_thinking"))
            case TextDelta(text=delta):
                writer = writer or self._new_writer(target)
                writer.add(delta)
            case TextDone(text=final):
                writer = writer or self._new_writer(target)
                await writer.finish(final)
                self._note_streaming(writer)
                return None
            case Message(text=body):
                await self.post_text(target, body)
            case Buttons():
                await self.post_buttons(target, item)
            case Sources() if item.items:
                await self.post_sources(target, item)
            case Report() | Handoff():
                log.debug("slack: %s is handled by the domain-event listeners", type(item).__name__)
        return writer

    def _new_writer(self, target: Target) -> Writer:
        if target.thread_ts and self.native_streaming:
            return NativeStream(self.client, target, self.timing)
        return EditedReply(self.client, target, self.timing, interim=self.interim)

    def _note_streaming(self, writer: Writer) -> None:
        if isinstance(writer, NativeStream) and writer.unavailable in PERMANENTLY_UNAVAILABLE:
            self.native_streaming = False

    async def _set_status(self, target: Target, status: str) -> None:
        if not target.assistant:
            return
        try:
            await self.client.assistant_threads_setStatus(
                channel_id=target.channel, thread_ts=target.thread_ts, status=status
            )
        except SlackApiError as failure:  # a status line is a nicety, never worth a failed turn
            log.info("slack: setStatus failed: %s", error_of(failure))

    async def post_text(self, target: Target, body: str) -> None:
        for part in split_text(body, FALLBACK_PART_CHARS):
            await call_slack(
                partial(
                    self.client.chat_postMessage,
                    channel=target.channel,
                    thread_ts=target.thread_ts or None,
                    markdown_text=part,
                )
            )

    async def post_sources(self, target: Target, sources: Sources) -> None:
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
            )
        )

    async def post_buttons(self, target: Target, buttons: Buttons) -> None:
        body = buttons.text
        if len(body) > SECTION_MAX_CHARS:  # too long for a section block: text first
            await self.post_text(target, body)
            body = ""
        blocks = _button_blocks(body, buttons)
        await call_slack(
            partial(
                self.client.chat_postMessage,
                channel=target.channel,
                thread_ts=target.thread_ts or None,
                text=body or " ".join(b.label for b in buttons.buttons),
                blocks=blocks,
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


async def _pump(outputs: AsyncIterator[Output], queue: asyncio.Queue[Output | _End]) -> None:
    """Read the engine's stream into a queue, so waiting for the next output can time out
    (to flush buffered text) without cancelling the engine's generator."""
    try:
        async for item in outputs:
            queue.put_nowait(item)
    except Exception as error:  # noqa: BLE001 - handed to the renderer, which re-raises it
        queue.put_nowait(_End(error))
        return
    queue.put_nowait(_End())
