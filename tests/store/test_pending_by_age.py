"""`conversations_with_pending(stored_before=...)`: the retry loop's question, on the partial
index of pending messages by age (migration 0008)."""

from __future__ import annotations

from datetime import timedelta

from bot.domain import ConversationKey, Platform
from bot.store.api import MessageStatus
from bot.store.sql import SqlStore


async def test_only_messages_stored_before_the_cutoff_count(store: SqlStore) -> None:
    key = ConversationKey.user_in_chat(Platform.CONSOLE, "chat", "alice")
    conversation = await store.create_conversation(key, None, "support", {})
    message = await store.record_user_message(conversation.id, kind="text", text="hello")
    assert message is not None
    at = message.created_at
    assert await store.conversations_with_pending(stored_before=at) == []
    later = at + timedelta(microseconds=1)
    assert await store.conversations_with_pending(stored_before=later) == [conversation.id]
    assert await store.conversations_with_pending() == [conversation.id]
    await store.mark_message(message.id, MessageStatus.ANSWERED)
    assert await store.conversations_with_pending(stored_before=later) == []
