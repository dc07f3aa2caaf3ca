"""Help-desk sessions in a direct message: after a long silence, a new question starts a new
conversation, so yesterday's topic does not steer today's answer (nor fill its prompt).

The old conversation is closed (SUPERSEDED) and a fresh one answers the new message, without
an announcement: the reply to the question is what the user wants, and products that do this
(help-desk messengers) do it silently. Threads and channels are their own conversations and
are never rolled over; a conversation with a message still waiting is never closed.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.store.api import ConversationRecord

SUPPORT_FLOW = "support"


def is_direct_message(conversation: ConversationRecord) -> bool:
    # `ConversationKey.user_in_chat` is the one-person policy; a thread key has user "*".
    return conversation.key.user_id != "*" and not conversation.key.thread_id


def support_session_over(
    conversation: ConversationRecord, now: datetime, idle_hours: float
) -> bool:
    return (
        idle_hours > 0
        and conversation.flow == SUPPORT_FLOW
        and is_direct_message(conversation)
        and now - conversation.updated_at >= timedelta(hours=idle_hours)
    )
