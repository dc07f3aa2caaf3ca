"""Slack events and interactivity payloads translated into the core's `Incoming`.

Pure functions over the payload dicts: no I/O, no bolt. The adapter decides what to do with
the result; `None` means "not for the help desk" (another bot, an edit, a channel message
that does not mention the bot...).
"""

from __future__ import annotations

import re
from typing import Any

from bot.domain import ConversationKey, FlowStart, Incoming, InputKind, Platform, UserRef

SUPPORT = FlowStart("support")
# Message subtypes that are still a person writing to us; every other subtype (bot_message,
# message_changed, message_deleted, channel_join...) is ignored.
PERSON_SUBTYPES = frozenset({None, "file_share", "thread_broadcast"})
ACTION_PREFIX = "flow:"


def _user(user_id: str) -> UserRef:
    return UserRef(platform=Platform.SLACK, platform_user_id=user_id)


def _event_id(event: dict[str, Any], envelope_event_id: str | None) -> str | None:
    # A channel mention arrives twice (`message` and `app_mention`, different event ids) with
    # one client_msg_id; a Slack retry repeats the envelope's event_id.
    return event.get("client_msg_id") or envelope_event_id


def dm_event_id(channel: str, ts: str) -> str:
    """A DM message's id for the engine's dedupe: its channel and ts, which identify it
    (retries repeat them). Stored with the message, it also tells later whether a DM
    thread hangs under a message of the user's DM conversation (`direct_message`)."""
    return f"im:{channel}:{ts}"


def is_from_a_person(event: dict[str, Any], bot_user_id: str | None) -> bool:
    user = event.get("user")
    return (
        bool(user)
        and not event.get("bot_id")
        and event.get("subtype") in PERSON_SUBTYPES
        and user != bot_user_id
    )


def _kind_and_text(event: dict[str, Any], text: str) -> tuple[InputKind, str]:
    stripped = text.strip()
    if not stripped and event.get("files"):
        return InputKind.UNSUPPORTED, ""
    if stripped.startswith("/") and len(stripped) > 1:
        return InputKind.COMMAND, stripped[1:]
    return InputKind.TEXT, text


def is_direct_message(event: dict[str, Any], bot_user_id: str | None) -> bool:
    return event.get("channel_type") == "im" and is_from_a_person(event, bot_user_id)


def direct_message(
    event: dict[str, Any],
    envelope_event_id: str | None,
    bot_user_id: str | None,
    bot_names: tuple[str, ...] = (),
    *,
    thread_continues_dm: bool = False,
) -> Incoming | None:
    """A message in a DM: top level is the user's conversation with the bot, and so is a
    thread under one of its messages (the bot's reply thread: `thread_continues_dm`, which
    the adapter establishes); any other thread (the assistant side panel) is a
    conversation of its own."""
    if not is_direct_message(event, bot_user_id):
        return None
    channel, user, thread_ts = event["channel"], event["user"], event.get("thread_ts")
    key = (
        ConversationKey.thread(Platform.SLACK, channel, thread_ts)
        if thread_ts and not thread_continues_dm
        else ConversationKey.user_in_chat(Platform.SLACK, channel, user)
    )
    ts = event.get("ts")
    kind, body = _kind_and_text(
        event, strip_mention(event.get("text") or "", bot_user_id, bot_names)
    )
    return Incoming(
        key=key,
        user=_user(user),
        kind=kind,
        text=body,
        event_id=dm_event_id(channel, str(ts)) if ts else _event_id(event, envelope_event_id),
        start=SUPPORT,
    )


def strip_mention(body: str, bot_user_id: str | None, bot_names: tuple[str, ...] = ()) -> str:
    """The bot's own mention removed wherever it is and however it is written: `<@U123>`,
    `<@U123|helpdesk>`, or typed as plain text ("@Helpdesk", "＠helpdesk:"); other people's
    mentions stay."""
    if bot_user_id:
        body = re.sub(rf"<@{re.escape(bot_user_id)}(?:\|[^>]*)?>[,:]?", " ", body)
    names = sorted({n.strip().lstrip("@") for n in bot_names if n.strip().lstrip("@")}, key=len)
    for name in reversed(names):  # the longest first: "Help Desk Bot" before "Help Desk"
        spelled = r"\s*".join(re.escape(part) for part in name.split())
        body = re.sub(
            rf"(?<![\w@])[@＠]{spelled}(?![\w-])[,:，：]?", " ", body, flags=re.IGNORECASE
        )
    return re.sub(r"[ \t]{2,}", " ", body).strip()


def channel_mention(
    event: dict[str, Any],
    envelope_event_id: str | None,
    bot_user_id: str | None,
    bot_names: tuple[str, ...] = (),
) -> Incoming | None:
    """The bot mentioned in a channel: answered in the thread, one conversation per thread."""
    if not is_from_a_person(event, bot_user_id):
        return None
    channel = event["channel"]
    thread_ts = event.get("thread_ts") or event["ts"]
    kind, body = _kind_and_text(
        event, strip_mention(event.get("text") or "", bot_user_id, bot_names)
    )
    return Incoming(
        key=ConversationKey.thread(Platform.SLACK, channel, thread_ts),
        user=_user(event["user"]),
        kind=kind,
        text=body,
        event_id=_event_id(event, envelope_event_id),
        start=SUPPORT,
    )


def tapped_thread(body: dict[str, Any]) -> tuple[str, str] | None:
    """(channel, thread ts) of the message a button is on, when it is in a thread."""
    container = body.get("container") or {}
    channel = container.get("channel_id") or (body.get("channel") or {}).get("id")
    thread_ts = container.get("thread_ts") or (body.get("message") or {}).get("thread_ts")
    return (str(channel), str(thread_ts)) if channel and thread_ts else None


def button_tap(body: dict[str, Any], *, thread_continues_dm: bool = False) -> Incoming | None:
    """A tap on a flow's button (block_actions): the conversation of the message it is on
    (a button in the bot's reply thread of a DM is on the DM conversation's message)."""
    actions = body.get("actions") or []
    user = (body.get("user") or {}).get("id")
    container = body.get("container") or {}
    channel = container.get("channel_id") or (body.get("channel") or {}).get("id")
    if not actions or not user or not channel:
        return None
    action = actions[0]
    action_id = str(action.get("action_id", ""))
    if not action_id.startswith(ACTION_PREFIX):
        return None
    thread_ts = container.get("thread_ts") or (body.get("message") or {}).get("thread_ts")
    if thread_ts and not (thread_continues_dm and channel.startswith("D")):
        key = ConversationKey.thread(Platform.SLACK, channel, thread_ts)
    elif channel.startswith("D"):
        key = ConversationKey.user_in_chat(Platform.SLACK, channel, user)
    else:  # a top-level message in a channel: its own thread
        key = ConversationKey.thread(Platform.SLACK, channel, container.get("message_ts", ""))
    tap_id = f"{container.get('message_ts', '')}:{action.get('action_ts', '')}:{user}"
    return Incoming(
        key=key,
        user=_user(user),
        kind=InputKind.ACTION,
        action_id=action_id.removeprefix(ACTION_PREFIX),
        text=str(action.get("value", "")),
        event_id=f"action:{tap_id}",
    )
