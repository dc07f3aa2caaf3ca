"""The outbox: exactly once, as the user sees it.

A turn runs in two steps, so that what the user sees never gets ahead of what is stored:

1. *Preview.* While the flow runs, the adapter's `Deliverer.preview` shows progress that is
   not the reply of record: a typing action, Telegram drafts (`sendMessageDraft`, ephemeral:
   a kill makes them vanish), a Slack stream or a group chat's plain-text message left open.
2. *Commit.* When the flow ends, everything the turn produced is written in one
   transaction: the state, the evaluation, the user's message marked answered, and each
   reply with its outbox row (PENDING). From then on the turn is never run again: a restart
   finds the message answered, so no grading is repeated and no second answer is made.
3. *Delivery*, a separate and retryable step: each pending row, oldest first and under the
   conversation's locks, goes to `Deliverer.deliver`, which returns only when the platform
   accepted it (finishing the preview this process still holds, or sending afresh), and is
   then marked DELIVERED. A refused form is re-sent simpler by the adapter (Telegram HTML ->
   plain text, Slack `markdown_text` -> `text` in mrkdwn). Any other failure leaves the row
   PENDING with a backoff (2 s doubling to 10 min); the engine's retry loop and every
   restart take due rows up again, and later replies of the conversation wait behind it, so
   order holds. A blocked user, or `max_attempts` failures, make it FAILED. /metrics counts
   pending, failed and each attempt's outcome.

Where a kill can land: before the commit, the message is still pending and the turn runs
again (drafts were ephemeral; a group's or Slack's open preview is left as it was); after
the commit, the reply is delivered once by the restarted process.

Between the platform's acceptance and the DELIVERED update (one small UPDATE) neither
`sendMessage` nor `chat.postMessage` takes an idempotency key, so the outbox tells the
adapter which attempts may repeat an earlier one (`bot.ports.Delivery.retried`): every
attempt but the first one, made right after the commit that wrote the row, under the same
locks. Slack marks each reply with its outbox id (message metadata) and, on such an
attempt, first looks for it in the conversation: found, the row is marked delivered
without posting again (counted as `found`). A lookup that fails posts anyway: a possible
duplicate rather than a loss. So the window is left on Telegram only, whose Bot API has
no way to read back what a bot sent: there, the reply is sent again rather than lost.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from bot import crashpoints, metrics
from bot.domain import (
    JSON,
    Button,
    Buttons,
    ConversationKey,
    Message,
    Output,
    Platform,
    Source,
    Sources,
    TextDone,
    utcnow,
)
from bot.errors import DeliveryBlocked
from bot.ports import Deliverer, Delivery, Shown
from bot.store.api import OutboxRecord, Store
from bot.texts import text

log = logging.getLogger(__name__)


def payload_of(output: Output) -> JSON | None:
    """What the outbox stores to show `output` again; None for outputs nobody sees."""
    match output:
        case TextDone(text=body):
            return {"kind": "text", "text": body}
        case Message(text=body):
            return {"kind": "message", "text": body}
        case Buttons(text=body, buttons=buttons):
            return {
                "kind": "buttons",
                "text": body,
                "buttons": [
                    {"label": b.label, "action_id": b.action_id, "value": b.value, "style": b.style}
                    for b in buttons
                ],
            }
        case Sources(items=items, lang=lang) if items:
            return {
                "kind": "sources",
                "text": sources_text(output),
                "lang": lang,
                "items": [
                    {"number": s.number, "title": s.title, "location": s.location} for s in items
                ],
            }
    return None


def sources_text(sources: Sources) -> str:
    """The cited documents as plain text: what is stored with the turn (and its history)."""
    listed = " ".join(f"[{s.number}] {s.title}" for s in sources.items)
    return f"{text('kb_sources', sources.lang)}: {listed}"


def output_of(payload: JSON) -> Output:
    kind, body = payload.get("kind"), str(payload.get("text", ""))
    if kind == "text":
        return TextDone(body)
    if kind == "buttons":
        buttons = tuple(
            Button(
                str(b["label"]),
                str(b["action_id"]),
                str(b.get("value", "")),
                str(b.get("style", "")),
            )
            for b in payload.get("buttons", [])
        )
        return Buttons(body, buttons)
    if kind == "sources":
        items = tuple(
            Source(int(i["number"]), str(i["title"]), str(i["location"]))
            for i in payload.get("items", [])
        )
        return Sources(items, str(payload.get("lang", "en")))
    return Message(body)


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    first_retry_s: float = 2.0
    max_retry_s: float = 600.0
    max_attempts: int = 50  # about 8 hours of tries at the longest interval

    def retry_in(self, attempts: int) -> float:
        return min(self.max_retry_s, self.first_retry_s * 2.0 ** max(0, attempts - 1))


class Outcome(StrEnum):
    DONE = "done"  # nothing left to deliver
    WAITING = "waiting"  # a reply waits for its next attempt
    BLOCKED = "blocked"  # the platform will not deliver to this conversation any more


class Outbox:
    def __init__(
        self,
        store: Store,
        deliverer_for: Callable[[Platform], Deliverer | None],
        policy: DeliveryPolicy | None = None,
    ) -> None:
        self.store = store
        self.deliverer_for = deliverer_for
        self.policy = policy or DeliveryPolicy()

    async def deliver_pending(
        self, conversation_id: int, key: ConversationKey, fresh: int = 0
    ) -> Outcome:
        """Deliver the conversation's pending replies in order; stop at the first that
        cannot go now. The caller holds the conversation's locks.

        `fresh`: how many rows the caller's commit has just written, under these locks: the
        newest pending ones (every earlier row was committed before, with a smaller id).
        Nothing can have shown them yet; any other row may have been shown by an attempt
        whose outcome was never recorded (a kill, a failed UPDATE, a timeout)."""
        deliverer = self.deliverer_for(key.platform)
        if deliverer is None:
            return Outcome.WAITING  # another process with this platform's adapter delivers
        now = utcnow()
        records = await self.store.pending_deliveries(conversation_id)
        first_fresh = len(records) - fresh
        for index, record in enumerate(records):
            if record.next_attempt_at > now:
                return Outcome.WAITING
            retried = index < first_fresh or record.attempts > 0
            outcome = await self._attempt(deliverer, key, record, retried)
            if outcome is not Outcome.DONE:
                return outcome
        return Outcome.DONE

    async def _attempt(
        self, deliverer: Deliverer, key: ConversationKey, record: OutboxRecord, retried: bool
    ) -> Outcome:
        delivery = Delivery(record.id, retried, record.created_at)
        try:
            shown = await deliverer.deliver(key, output_of(record.payload), delivery)
        except DeliveryBlocked as blocked:
            log.warning("delivery %s to %s blocked: %s", record.id, key.as_str(), blocked)
            await self.store.mark_delivery_failed(record.id, f"blocked: {blocked}", None)
            metrics.DELIVERIES.labels("blocked").inc()
            return Outcome.BLOCKED
        except Exception as error:  # noqa: BLE001 - every failure is retried, with backoff
            attempts = record.attempts + 1
            detail = f"{type(error).__name__}: {error}"[:300]
            if attempts >= self.policy.max_attempts:
                log.error(
                    "delivery %s to %s given up after %d tries: %s",
                    record.id,
                    key.as_str(),
                    attempts,
                    detail,
                )
                await self.store.mark_delivery_failed(record.id, detail, None)
                metrics.DELIVERIES.labels("failed").inc()
                return Outcome.DONE
            delay = self.policy.retry_in(attempts)
            log.warning(
                "delivery %s to %s failed (try %d, %s); again in %.0f s",
                record.id,
                key.as_str(),
                attempts,
                detail,
                delay,
            )
            retry_at = utcnow() + timedelta(seconds=delay)
            await self.store.mark_delivery_failed(record.id, detail, retry_at)
            metrics.DELIVERIES.labels("retry").inc()
            return Outcome.WAITING
        crashpoints.reached("delivery.accepted")
        await self.store.mark_delivered(record.id)
        if shown is Shown.EARLIER:
            log.info(
                "delivery %s to %s was shown by an earlier attempt; not sent again",
                record.id,
                key.as_str(),
            )
            metrics.DELIVERIES.labels("found").inc()
        else:
            metrics.DELIVERIES.labels("delivered").inc()
        return Outcome.DONE

    async def refresh_gauges(self) -> None:
        counts = await self.store.delivery_counts()
        for state, count in counts.items():
            metrics.OUTBOX.labels(state.value).set(count)
