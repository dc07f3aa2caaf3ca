"""Telegram `Update` -> `Incoming`, and nothing else: no business decisions here.

Private chats are always answered; in groups only a message that mentions the bot, replies
to it, or is a command addressed to it by name (`/help@this_bot`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from telegram import CallbackQuery, Message, MessageEntity, Update, User
from telegram.constants import ChatType

from adapters.telegram.callbacks import CallbackCodec
from bot.domain import (
    AudioRef,
    ConversationKey,
    DocumentRef,
    FlowStart,
    Incoming,
    InputKind,
    Platform,
    UserRef,
)

log = logging.getLogger(__name__)

INTERVIEW_FLOW = "interview"
_PRIVATE = ChatType.PRIVATE
_GROUPS = (ChatType.GROUP, ChatType.SUPERGROUP)


@dataclass(frozen=True, slots=True)
class BotIdentity:
    user_id: int
    username: str  # without "@"


def user_ref(user: User) -> UserRef:
    return UserRef(
        Platform.TELEGRAM,
        str(user.id),
        display_name=user.full_name,
        locale=user.language_code,
    )


def _key(chat_id: int, user: User) -> ConversationKey:
    return ConversationKey.user_in_chat(Platform.TELEGRAM, str(chat_id), str(user.id))


def _is_unsupported_media(message: Message) -> bool:
    return bool(
        message.effective_attachment
        or message.sticker
        or message.location
        or message.contact
        or message.poll
        or message.dice
    )


def _audio_of(message: Message) -> AudioRef | None:
    """A voice note, video note or audio file, as a reference to fetch it later."""
    for source, media in (
        ("voice", message.voice),
        ("video_note", message.video_note),
        ("audio", message.audio),
    ):
        if media is not None:
            duration = media.duration  # a timedelta under PTB_TIMEDELTA (set in __init__)
            seconds = duration.total_seconds() if isinstance(duration, timedelta) else duration
            return AudioRef(source, media.file_id, round(seconds), media.file_size or 0)
    return None


def _document_of(message: Message) -> DocumentRef | None:
    """A file sent as a document (a résumé, perhaps), as a reference to fetch it later."""
    document = message.document
    if document is None:
        return None
    return DocumentRef(
        document.file_id,
        (document.file_name or "").replace("\n", " "),
        document.mime_type or "",
        document.file_size or 0,
    )


def _strip_mention(text: str, me: BotIdentity) -> str:
    mention = f"@{me.username}"
    index = text.lower().find(mention.lower())
    if index < 0:
        return text
    return (text[:index] + text[index + len(mention) :]).strip()


def _addressed_in_group(message: Message, me: BotIdentity) -> bool:
    replied = message.reply_to_message
    if replied is not None and replied.from_user is not None and replied.from_user.id == me.user_id:
        return True
    entities = message.parse_entities() or message.parse_caption_entities()
    for entity, value in entities.items():
        if entity.type == MessageEntity.MENTION and value.lower() == f"@{me.username}".lower():
            return True
        if (
            entity.type == MessageEntity.TEXT_MENTION
            and entity.user
            and entity.user.id == me.user_id
        ):
            return True
        if entity.type == MessageEntity.BOT_COMMAND and entity.offset == 0:
            _, _, target = value.partition("@")
            return target.lower() == me.username.lower()
    return False


def _command(text: str, me: BotIdentity) -> tuple[str, str] | None:
    """("start", "payload") for "/start payload" or "/start@this_bot payload"; None when the
    text is not a command, or is one for another bot."""
    if not text.startswith("/"):
        return None
    head, _, args = text.partition(" ")
    name, _, target = head[1:].partition("@")
    if not name or (target and target.lower() != me.username.lower()):
        return None
    return name.lower(), args.strip()


def from_message(update_id: int, message: Message, me: BotIdentity) -> Incoming | None:
    user = message.from_user
    if user is None or user.is_bot:
        return None
    chat = message.chat
    if chat.type not in (_PRIVATE, *_GROUPS):
        return None
    if chat.type != _PRIVATE and not _addressed_in_group(message, me):
        return None

    def incoming(kind: InputKind, text: str = "", start: FlowStart | None = None) -> Incoming:
        return Incoming(
            key=_key(chat.id, user),
            user=user_ref(user),
            kind=kind,
            text=text,
            event_id=str(update_id),
            start=start,
        )

    if message.text is None:
        media = _audio_of(message) or _document_of(message)
        if media is not None:
            return Incoming(
                key=_key(chat.id, user),
                user=user_ref(user),
                kind=InputKind.VOICE if isinstance(media, AudioRef) else InputKind.DOCUMENT,
                action_id=media.ref(),
                event_id=str(update_id),
            )
        if _is_unsupported_media(message):
            return incoming(InputKind.UNSUPPORTED)
        return None  # a service message: someone joined, the title changed...
    command = _command(message.text, me)
    if command is not None:
        name, args = command
        if name == "start":
            params = {"invitation": args} if args else {}
            return incoming(InputKind.START, args, FlowStart(INTERVIEW_FLOW, params))
        return incoming(InputKind.COMMAND, f"{name} {args}" if args else name)
    text = message.text if chat.type == _PRIVATE else _strip_mention(message.text, me)
    return incoming(InputKind.TEXT, text)


def from_callback(update_id: int, query: CallbackQuery, codec: CallbackCodec) -> Incoming | None:
    message = query.message
    if message is None or query.data is None:
        return None
    decoded = codec.decode(query.data)
    if decoded is None:
        log.info("telegram: a tap on a button this process does not know (%r)", query.data)
        return None
    action_id, value = decoded
    return Incoming(
        key=_key(message.chat.id, query.from_user),
        user=user_ref(query.from_user),
        kind=InputKind.ACTION,
        action_id=action_id,
        text=value,
        event_id=str(update_id),
    )


def to_incoming(update: Update, me: BotIdentity, codec: CallbackCodec) -> Incoming | None:
    """The `Incoming` for an update, or None when the bot should not react to it."""
    if update.callback_query is not None:
        return from_callback(update.update_id, update.callback_query, codec)
    if update.edited_message is not None:
        log.debug("telegram: edited message %s ignored on purpose", update.update_id)
        return None
    if update.message is not None:
        return from_message(update.update_id, update.message, me)
    return None
