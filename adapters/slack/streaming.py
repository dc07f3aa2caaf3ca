"""How a reply grows on screen while the model writes it.

`NativeStream`: chat.startStream / appendStream / stopStream, appends buffered and sent at
most every `append_interval_s`; a message is closed and a new one started before Slack's
12,000-character stream limit. `EditedReply`: chat.postMessage + chat.update, at most one
write per `edit_interval_s`, messages under 3,900 characters; used where streaming is not
available (no thread to stream into, the method refused) and to finish a stream that Slack
closed (message_not_in_streaming_state, after about five minutes).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from functools import partial
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.budget import EditBudget
from adapters.slack.client import call_slack, call_with_markdown, error_of, retry_after_of
from adapters.slack.splitting import FALLBACK_PART_CHARS, STREAM_PART_CHARS, cut_point, split_text

log = logging.getLogger(__name__)

# startStream answers that mean "no native streaming here": use chat.update instead.
STREAMING_UNAVAILABLE = frozenset(
    {
        "unknown_method",
        "method_not_supported",
        "not_allowed",
        "not_allowed_token_type",
        "feature_not_enabled",
        "not_supported",
        "method_deprecated",
        "invalid_arguments",
        "missing_recipient_user_id",
        "missing_recipient_team_id",
        "missing_scope",
    }
)
STREAM_CLOSED = "message_not_in_streaming_state"


@dataclass(frozen=True, slots=True)
class StreamTiming:
    append_interval_s: float = 0.5  # native stream: one appendStream per interval at most
    edit_interval_s: float = 1.0  # fallback: one chat.update/postMessage per second at most


@dataclass(frozen=True, slots=True)
class Target:
    """Where one conversation's replies go."""

    channel: str
    thread_ts: str = ""  # "" for a top-level DM
    assistant: bool = False  # an assistant (side panel) thread: has a status line
    recipient_user_id: str | None = None  # required by startStream outside DMs
    recipient_team_id: str | None = None


class EditedReply:
    """A reply as plain messages, edited as it grows: parts of `text[base:]`."""

    def __init__(
        self,
        client: AsyncWebClient,
        target: Target,
        timing: StreamTiming,
        *,
        text: str = "",
        base: int = 0,
        adopted: list[tuple[str, str]] | None = None,
        interim: AsyncWebClient | None = None,
        budget: EditBudget | None = None,
    ) -> None:
        self.client, self.target, self.timing = client, target, timing
        self.budget = budget  # the workspace's chat.update budget, shared by all replies
        self.interim = interim or client  # for edits while streaming: does not wait on 429s
        self._quiet_until = 0.0
        self.text = text
        self._base = base
        self._shown: list[tuple[str, str]] = list(adopted or [])  # (ts, text shown)
        self._last_write = -1e9
        self._marked = False  # the last _show put its metadata on the last part

    def add(self, delta: str) -> None:
        self.text += delta

    def _layout(self) -> list[str]:
        return split_text(self.text[self._base :], FALLBACK_PART_CHARS)

    def due_in(self) -> float | None:
        if self._layout() == [shown for _, shown in self._shown]:
            return None
        due = max(self._last_write + self.timing.edit_interval_s, self._quiet_until)
        return max(0.0, due - time.monotonic())

    async def flush(self) -> None:
        try:
            await self._show(self._layout())
        except SlackApiError as failure:
            if error_of(failure) != "ratelimited":
                raise
            # No edits until Retry-After has passed; the text is kept and shown by a later
            # edit (the final one waits as long as it must).
            pause = retry_after_of(failure)
            self._quiet_until = time.monotonic() + pause
            if self.budget is not None:
                self.budget.rate_limited(pause)
            log.info("slack: rate limited while editing; next edit in %.0f s", pause)

    async def finish(self, final: str, metadata: dict[str, Any] | None = None) -> None:
        """The reply as it ends; `metadata` goes on its last part (bot/delivery.py: the
        mark a restarted process looks for), with an edit of its own if need be."""
        if final:
            self.text = final
        parts = self._layout()
        await self._show(parts, patient=True, metadata=metadata)
        if metadata is not None and not self._marked and self._shown:
            ts, shown = self._shown[min(len(parts), len(self._shown)) - 1]
            await self._take_turn()
            await call_with_markdown(
                self.client.chat_update,
                shown,
                channel=self.target.channel,
                ts=ts,
                **_meta(metadata),
            )

    async def _show(
        self, parts: list[str], *, patient: bool = False, metadata: dict[str, Any] | None = None
    ) -> None:
        attempts = 3 if patient else 1
        self._marked = False
        for index, part in enumerate(parts):
            mark = _meta(metadata) if index == len(parts) - 1 else {}
            self._marked = bool(mark)
            if index < len(self._shown):
                ts, shown = self._shown[index]
                if shown == part:
                    self._marked = False
                    continue
                if self.budget is not None and not patient and not self.budget.take_interim():
                    # The workspace's edits are spoken for: the text waits for a later one.
                    self._quiet_until = time.monotonic() + self.budget.interim_wait_s()
                    return
                no_edit_left = self.budget is not None and patient and not self.budget.take_final()
                if no_edit_left and await self._repost(index, ts, part, mark):
                    continue
                await self._take_turn()
                await call_with_markdown(
                    (self.client if patient else self.interim).chat_update,
                    part,
                    attempts=attempts,
                    channel=self.target.channel,
                    ts=ts,
                    **mark,
                )
                self._shown[index] = (ts, part)
            else:
                await self._take_turn()
                response = await call_with_markdown(
                    self.client.chat_postMessage,
                    part,
                    attempts=attempts,
                    channel=self.target.channel,
                    thread_ts=self.target.thread_ts or None,
                    **mark,
                )
                self._shown.append((str(response["ts"]), part))
        if len(self._shown) > len(parts):
            log.warning("slack: the final reply is shorter than its stream; extra parts kept")

    async def _repost(self, index: int, ts: str, part: str, mark: dict[str, Any]) -> bool:
        """A final edit with no chat.update left: the stale message deleted (chat.delete has
        a budget of its own) and the part posted anew, so the reply is not held back.
        False when the delete is refused: the caller edits, waiting as long as it must."""
        try:
            await self.client.chat_delete(channel=self.target.channel, ts=ts)
        except SlackApiError as failure:
            log.info("slack: could not delete a stale part (%s); editing it", error_of(failure))
            return False
        response = await call_with_markdown(
            self.client.chat_postMessage,
            part,
            channel=self.target.channel,
            thread_ts=self.target.thread_ts or None,
            **mark,
        )
        self._shown[index] = (str(response["ts"]), part)
        return True

    async def _take_turn(self) -> None:
        wait = self._last_write + self.timing.edit_interval_s - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        self._last_write = time.monotonic()


class StreamingUnavailable(Exception):
    """startStream was refused in a way that will not change for this workspace."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


class NativeStream:
    """A reply streamed with chat.startStream/appendStream/stopStream, split before Slack's
    limit; falls back to `EditedReply` when Slack refuses or closes the stream."""

    def __init__(
        self,
        client: AsyncWebClient,
        target: Target,
        timing: StreamTiming,
        budget: EditBudget | None = None,
        appends: EditBudget | None = None,
    ) -> None:
        self.client, self.target, self.timing = client, target, timing
        self.budget = budget  # chat.update, for a fallback
        # chat.appendStream is limited per workspace too: every stream shares one budget,
        # so many streams at once append less often each instead of meeting a Retry-After
        self.appends = appends
        self._quiet_until = 0.0
        self.text = ""
        self._sent = 0  # characters of `text` Slack has
        self._messages: list[tuple[str, int]] = []  # (ts, start offset) of each stream message
        self._streaming_ts: str | None = None  # the message being streamed into, if any
        self._last_append = -1e9
        self.fallback: EditedReply | None = None
        self.unavailable: str | None = None  # why streaming was refused, for the renderer
        self._metadata: dict[str, Any] | None = None  # for the call that ends the reply

    def add(self, delta: str) -> None:
        self.text += delta
        if self.fallback is not None:
            self.fallback.add(delta)

    def due_in(self) -> float | None:
        if self.fallback is not None:
            return self.fallback.due_in()
        if self._sent == len(self.text):
            return None
        due = max(self._last_append + self.timing.append_interval_s, self._quiet_until)
        return max(0.0, due - time.monotonic())

    async def flush(self) -> None:
        if self.fallback is not None:
            await self.fallback.flush()
            return
        self._last_append = time.monotonic()
        appending = self._streaming_ts is not None  # a start is chat.startStream's, not ours
        if appending and self.appends is not None and not self.appends.take_interim():
            # the workspace's appends are spoken for: the text waits for a later one
            self._quiet_until = time.monotonic() + self.appends.interim_wait_s()
            return
        try:
            await self._send_pending(patient=False)
        except SlackApiError as failure:
            if error_of(failure) != "ratelimited":
                raise
            pause = retry_after_of(failure)
            self._quiet_until = time.monotonic() + pause
            if self.appends is not None:
                self.appends.rate_limited(pause)
            log.warning("slack: rate limited while streaming; the text waits for the next flush")
        if self.fallback is not None:
            await self.fallback.flush()

    async def finish(self, final: str, metadata: dict[str, Any] | None = None) -> None:
        """The reply as it ends; `metadata` goes on the stopStream (or the chat.update)
        that completes it."""
        if final and final != self.text:
            if final.startswith(self.text):
                self.add(final[len(self.text) :])
            elif self._sent == 0:
                self.text = final  # nothing shown yet: show the final text instead
            else:
                log.warning("slack: the final reply differs from its stream; rewriting it")
                await self._stop_quietly()  # unmarked: the rewrite is not done yet
                self._fall_back(base=0, adopt_all=True)
        self._metadata = metadata
        if self.fallback is None:
            if self.appends is not None and self._streaming_ts and self._sent < len(self.text):
                self.appends.take_final()  # never held back; counted so the others wait
            await self._send_pending(patient=True)
        if self.fallback is not None:
            await self.fallback.finish(final or self.text, metadata)
            return
        await self._stop_current()

    # ---- the stream ---------------------------------------------------------------------

    async def _send_pending(self, *, patient: bool) -> None:
        attempts = 3 if patient else 1
        while self.fallback is None and self._sent < len(self.text):
            start = self._messages[-1][1] if self._streaming_ts else self._sent
            room = STREAM_PART_CHARS - (self._sent - start)
            pending = self.text[self._sent :]
            piece = pending[: cut_point(pending, room)] if len(pending) > room else pending
            if self._streaming_ts is None:
                if not await self._start(piece, attempts):
                    return
            else:
                try:
                    await call_slack(
                        partial(
                            self.client.chat_appendStream,
                            channel=self.target.channel,
                            ts=self._streaming_ts or "",
                            markdown_text=piece,
                        ),
                        attempts=attempts,
                    )
                except SlackApiError as failure:
                    if error_of(failure) != STREAM_CLOSED:
                        raise
                    log.info("slack: stream closed by Slack; finishing with chat.update")
                    self._streaming_ts = None
                    self._fall_back(base=start, adopt_all=False)
                    return
            self._sent += len(piece)
            if self._sent - start >= STREAM_PART_CHARS or len(piece) < len(pending):
                await self._stop_current()  # this message is full: the rest goes in the next

    async def _start(self, piece: str, attempts: int) -> bool:
        try:
            response = await call_slack(
                partial(
                    self.client.chat_startStream,
                    channel=self.target.channel,
                    thread_ts=self.target.thread_ts,
                    markdown_text=piece,
                    recipient_user_id=self.target.recipient_user_id,
                    recipient_team_id=self.target.recipient_team_id,
                ),
                attempts=attempts,
            )
        except SlackApiError as failure:
            error = error_of(failure)
            if error == "ratelimited":  # still limited after the client's own retries
                log.info("slack: startStream rate limited; this reply uses chat.update")
            elif error in STREAMING_UNAVAILABLE:
                log.info("slack: native streaming unavailable (%s); using chat.update", error)
                self.unavailable = error
            else:
                raise
            self.fallback = EditedReply(
                self.client,
                self.target,
                self.timing,
                text=self.text,
                base=self._sent,
                budget=self.budget,
            )
            return False
        self._streaming_ts = str(response["ts"])
        self._messages.append((self._streaming_ts, self._sent))
        return True

    async def _stop_current(self) -> None:
        ts, self._streaming_ts = self._streaming_ts, None
        if ts is None:
            return
        # The stop that ends the whole reply carries its mark (chat.stopStream takes
        # metadata; chat.startStream does not).
        mark = _meta(self._metadata) if self._sent == len(self.text) else {}
        try:
            await call_slack(
                partial(self.client.chat_stopStream, channel=self.target.channel, ts=ts, **mark),
                attempts=3,
            )
        except SlackApiError as failure:
            if error_of(failure) != STREAM_CLOSED:
                raise
            # Closed by Slack meanwhile: make sure the message holds all of its text.
            start = next(offset for message_ts, offset in self._messages if message_ts == ts)
            await call_with_markdown(
                self.client.chat_update,
                self.text[start : self._sent],
                channel=self.target.channel,
                ts=ts,
                **mark,
            )

    async def _stop_quietly(self) -> None:
        try:
            await self._stop_current()
        except SlackApiError as failure:
            log.warning("slack: stopStream failed: %s", error_of(failure))

    def _fall_back(self, *, base: int, adopt_all: bool) -> None:
        """Continue as edited messages, taking over the streamed message(s) from `base`."""
        adopted: list[tuple[str, str]] = []
        bounds = [*self._messages[1:], (None, self._sent)]
        for (ts, start), (_, end) in zip(self._messages, bounds, strict=True):
            if adopt_all or start >= base:
                adopted.append((ts, self.text[start:end]))
        self.fallback = EditedReply(
            self.client,
            self.target,
            self.timing,
            text=self.text,
            base=0 if adopt_all else base,
            adopted=adopted,
            budget=self.budget,
        )


def _meta(metadata: dict[str, Any] | None) -> dict[str, Any]:
    """`metadata=` for a Web API call, or nothing."""
    return {"metadata": metadata} if metadata is not None else {}
