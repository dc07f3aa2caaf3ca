"""The fake's Web API methods: each takes the merged request params and returns the
JSON body of a successful answer, or raises `ApiError` for Slack's `ok: false` answers."""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from tests.fakes.slack.files import files_info
from tests.fakes.slack.history import conversations_history, conversations_replies, metadata_of
from tests.fakes.slack.state import (
    MARKDOWN_MAX_CHARS,
    STREAM_MAX_CHARS,
    TEXT_MAX_CHARS,
    ApiError,
    FakeMessage,
)

if TYPE_CHECKING:
    from tests.fakes.slack.server import FakeSlack

JSONBody = dict[str, Any]
Method = Callable[["FakeSlack", JSONBody], Awaitable[JSONBody]]


def _require(params: JSONBody, *names: str) -> None:
    for name in names:
        if not params.get(name):
            raise ApiError(f"missing_argument_{name}" if name != "channel" else "channel_not_found")


def _blocks(params: JSONBody) -> list[dict[str, Any]]:
    blocks = params.get("blocks") or []
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    return list(blocks)


def _content(params: JSONBody) -> str:
    """The visible text: markdown_text, else text, else the text of the blocks."""
    markdown = params.get("markdown_text")
    if markdown is not None:
        if len(markdown) > MARKDOWN_MAX_CHARS:
            raise ApiError("msg_too_long")
        return str(markdown)
    text = params.get("text")
    if text is not None:
        if len(text) > TEXT_MAX_CHARS:
            raise ApiError("msg_too_long")
        return str(text)
    for block in _blocks(params):
        if block.get("type") == "section":
            return str(block.get("text", {}).get("text", ""))
    return ""


def _known_params(slack: FakeSlack, params: JSONBody) -> JSONBody:
    """What the fake understands of `params`: without markdown_text support it is dropped,
    and a message left with no text or blocks is refused as Slack refuses one."""
    if slack.markdown_text_supported or "markdown_text" not in params:
        return params
    known = {k: v for k, v in params.items() if k != "markdown_text"}
    if not known.get("text") and not _blocks(known):
        raise ApiError("missing_argument")
    return known


def _check_thread(slack: FakeSlack, channel: str, thread_ts: str | None) -> None:
    if thread_ts and slack.strict_threads and slack.workspace.find(channel, thread_ts) is None:
        raise ApiError("thread_not_found")


def _bot_reply_posted(slack: FakeSlack, channel: str, thread_ts: str | None) -> None:
    # Slack clears an assistant thread's status when the app replies in it.
    if thread_ts and (channel, thread_ts) in slack.workspace.assistant_threads:
        slack.workspace.thread(channel, thread_ts).statuses.append("")


async def auth_test(slack: FakeSlack, params: JSONBody) -> JSONBody:
    return {
        "url": "https://fake.slack.test/",
        "team": "Fake Team",
        "user": slack.workspace.users.get(slack.bot_user_id, {}).get("name", "chatbot"),
        "team_id": slack.team_id,
        "user_id": slack.bot_user_id,
        "bot_id": slack.bot_id,
        "is_enterprise_install": False,
    }


async def chat_post_message(slack: FakeSlack, params: JSONBody) -> JSONBody:
    _require(params, "channel")
    params = _known_params(slack, params)
    channel, thread_ts = params["channel"], params.get("thread_ts") or None
    _check_thread(slack, channel, thread_ts)
    metadata = metadata_of(params)
    message = slack.workspace.add(
        FakeMessage(
            channel=channel,
            ts=slack.workspace.next_ts(),
            text=_content(params),
            user=slack.bot_user_id,
            bot_id=slack.bot_id,
            thread_ts=thread_ts,
            blocks=_blocks(params),
            metadata=metadata,
        )
    )
    _bot_reply_posted(slack, channel, thread_ts)
    return {"channel": channel, "ts": message.ts, "message": {"text": message.text}}


async def chat_post_ephemeral(slack: FakeSlack, params: JSONBody) -> JSONBody:
    _require(params, "channel", "user")
    message = slack.workspace.add(
        FakeMessage(
            channel=params["channel"],
            ts=slack.workspace.next_ts(),
            text=_content(params),
            bot_id=slack.bot_id,
            user=slack.bot_user_id,
            thread_ts=params.get("thread_ts") or None,
            blocks=_blocks(params),
            ephemeral_for=params["user"],
        )
    )
    return {"message_ts": message.ts}


async def chat_update(slack: FakeSlack, params: JSONBody) -> JSONBody:
    _require(params, "channel", "ts")
    params = _known_params(slack, params)
    message = slack.workspace.find(params["channel"], params["ts"])
    if message is None:
        raise ApiError("message_not_found")
    if message.bot_id != slack.bot_id:
        raise ApiError("cant_update_message")
    metadata = metadata_of(params)
    if metadata is not None:  # left as it was when the update does not name it
        message.metadata = metadata
    if message.streaming:
        # An update ends the stream: what Slack shows from then on is the update.
        message.streaming = False
    message.text = _content(params)
    if "blocks" in params:
        message.blocks = _blocks(params)
    message.edits += 1
    return {"channel": message.channel, "ts": message.ts, "text": message.text}


async def chat_delete(slack: FakeSlack, params: JSONBody) -> JSONBody:
    _require(params, "channel", "ts")
    message = slack.workspace.find(params["channel"], params["ts"])
    if message is None:
        raise ApiError("message_not_found")
    if message.bot_id != slack.bot_id:
        raise ApiError("cant_delete_message")
    slack.workspace.messages.remove(message)
    return {"channel": message.channel, "ts": message.ts}


async def chat_get_permalink(slack: FakeSlack, params: JSONBody) -> JSONBody:
    _require(params, "channel", "message_ts")
    message = slack.workspace.find(params["channel"], params["message_ts"])
    if message is None:
        raise ApiError("message_not_found")
    link = f"https://fake.slack.test/archives/{message.channel}/p{message.ts.replace('.', '')}"
    if message.thread_ts and message.thread_ts != message.ts:
        link += f"?thread_ts={message.thread_ts}&cid={message.channel}"
    return {"channel": message.channel, "permalink": link}


def _stream_of(slack: FakeSlack, params: JSONBody) -> FakeMessage:
    _require(params, "channel", "ts")
    message = slack.workspace.find(params["channel"], params["ts"])
    if message is None:
        raise ApiError("message_not_found")
    if message.streaming and time.monotonic() - message.stream_started_at > slack.stream_window_s:
        message.streaming = False  # the window closed: Slack keeps what was appended
    if not message.streaming:
        raise ApiError("message_not_in_streaming_state")
    return message


def _append(message: FakeMessage, params: JSONBody) -> None:
    piece = params.get("markdown_text") or ""
    if len(message.text) + len(piece) > STREAM_MAX_CHARS:
        raise ApiError("msg_too_long")
    message.text += piece


async def chat_start_stream(slack: FakeSlack, params: JSONBody) -> JSONBody:
    if not slack.streaming_supported:
        raise ApiError("unknown_method")
    _require(params, "channel")
    channel, thread_ts = params["channel"], params.get("thread_ts")
    if not thread_ts:
        raise ApiError("invalid_arguments")
    _check_thread(slack, channel, thread_ts)
    if not channel.startswith("D") and not (
        params.get("recipient_user_id") and params.get("recipient_team_id")
    ):
        raise ApiError("missing_recipient_user_id")
    message = FakeMessage(
        channel=channel,
        ts=slack.workspace.next_ts(),
        text="",
        user=slack.bot_user_id,
        bot_id=slack.bot_id,
        thread_ts=thread_ts,
        streaming=True,
        stream_started_at=time.monotonic(),
    )
    _append(message, params)
    slack.workspace.add(message)
    _bot_reply_posted(slack, channel, thread_ts)
    return {"channel": channel, "ts": message.ts}


async def chat_append_stream(slack: FakeSlack, params: JSONBody) -> JSONBody:
    message = _stream_of(slack, params)
    _append(message, params)
    return {"channel": message.channel, "ts": message.ts}


async def chat_stop_stream(slack: FakeSlack, params: JSONBody) -> JSONBody:
    message = _stream_of(slack, params)
    metadata = metadata_of(params)
    _append(message, params)
    if "blocks" in params:
        message.blocks = _blocks(params)
    if metadata is not None:
        message.metadata = metadata
    message.streaming = False
    return {"channel": message.channel, "ts": message.ts, "message": {"text": message.text}}


async def conversations_members(slack: FakeSlack, params: JSONBody) -> JSONBody:
    _require(params, "channel")
    if params["channel"] not in slack.workspace.members:
        raise ApiError("channel_not_found")
    return {"members": slack.workspace.members[params["channel"]], "response_metadata": {}}


async def users_info(slack: FakeSlack, params: JSONBody) -> JSONBody:
    user = params.get("user", "")
    if user not in slack.workspace.users:
        raise ApiError("user_not_found")
    return {"user": slack.workspace.users[user]}


async def files_get_upload_url(slack: FakeSlack, params: JSONBody) -> JSONBody:
    _require(params, "filename", "length")
    file_id = f"F{len(slack.workspace.uploads) + 1:08d}"
    slack.workspace.uploads[file_id] = {"name": params["filename"], "content": None}
    return {"upload_url": f"{slack.base_url}/upload/{file_id}", "file_id": file_id}


async def files_complete_upload(slack: FakeSlack, params: JSONBody) -> JSONBody:
    files = params.get("files")
    if isinstance(files, str):
        files = json.loads(files)
    if not files:
        raise ApiError("invalid_arguments")
    done = []
    for entry in files:
        upload = slack.workspace.uploads.get(entry.get("id", ""))
        if upload is None or upload["content"] is None:
            raise ApiError("file_not_found")
        done.append({"id": entry["id"], "name": upload["name"], "title": entry.get("title", "")})
    channel = params.get("channel_id") or params.get("channels")
    if channel:
        message = slack.workspace.add(
            FakeMessage(
                channel=channel,
                ts=slack.workspace.next_ts(),
                text=params.get("initial_comment", ""),
                user=slack.bot_user_id,
                bot_id=slack.bot_id,
                thread_ts=params.get("thread_ts") or None,
                files=done,
            )
        )
        message.files = [dict(f, content=slack.workspace.uploads[f["id"]]["content"]) for f in done]
    return {"files": done}


async def assistant_set_status(slack: FakeSlack, params: JSONBody) -> JSONBody:
    _require(params, "channel_id", "thread_ts")
    slack.workspace.thread(params["channel_id"], params["thread_ts"]).statuses.append(
        params.get("status", "")
    )
    return {}


async def assistant_set_prompts(slack: FakeSlack, params: JSONBody) -> JSONBody:
    _require(params, "channel_id", "thread_ts")
    prompts = params.get("prompts")
    if isinstance(prompts, str):
        prompts = json.loads(prompts)
    if not prompts or len(prompts) > 4:
        raise ApiError("invalid_arguments")
    thread = slack.workspace.thread(params["channel_id"], params["thread_ts"])
    thread.suggested_prompts = list(prompts)
    thread.prompts_title = params.get("title", "")
    return {}


async def assistant_set_title(slack: FakeSlack, params: JSONBody) -> JSONBody:
    _require(params, "channel_id", "thread_ts", "title")
    slack.workspace.thread(params["channel_id"], params["thread_ts"]).title = params["title"]
    return {}


async def apps_connections_open(slack: FakeSlack, params: JSONBody) -> JSONBody:
    return {"url": slack.socket_url}


METHODS: dict[str, Method] = {
    "auth.test": auth_test,
    "chat.postMessage": chat_post_message,
    "chat.postEphemeral": chat_post_ephemeral,
    "chat.update": chat_update,
    "chat.getPermalink": chat_get_permalink,
    "chat.delete": chat_delete,
    "chat.startStream": chat_start_stream,
    "chat.appendStream": chat_append_stream,
    "chat.stopStream": chat_stop_stream,
    "conversations.history": conversations_history,
    "conversations.replies": conversations_replies,
    "conversations.members": conversations_members,
    "users.info": users_info,
    "files.info": files_info,
    "files.getUploadURLExternal": files_get_upload_url,
    "files.completeUploadExternal": files_complete_upload,
    "assistant.threads.setStatus": assistant_set_status,
    "assistant.threads.setSuggestedPrompts": assistant_set_prompts,
    "assistant.threads.setTitle": assistant_set_title,
    "apps.connections.open": apps_connections_open,
}
