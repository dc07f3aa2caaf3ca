"""Long polling that confirms an update only after the bot has stored it.

python-telegram-bot's `Updater` confirms an update (the next getUpdates `offset`) as soon
as it is queued in memory; a kill before the bot stored it loses it for good. This loop
calls getUpdates through PTB's `Bot` itself and asks for the next offset only once every
update of the batch has been handed to `handle` (which stores it: `Engine.submit` returns
after the message is in the database). A kill at any point before that leaves the batch
unconfirmed: Telegram sends it again and the store's unique event id drops what was
already stored.

Updates of one batch are handled concurrently across chats and in order within a chat.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from telegram import Bot, Update
from telegram.error import Forbidden, InvalidToken, NetworkError, TelegramError, TimedOut

from bot import crashpoints

log = logging.getLogger(__name__)

MAX_BACKOFF_S = 30.0


def chat_of(update: Update) -> int:
    """What orders updates: the chat (or the user, for updates without a chat)."""
    if update.effective_chat is not None:
        return update.effective_chat.id
    if update.effective_user is not None:
        return update.effective_user.id
    return 0


class Poller:
    def __init__(
        self,
        bot: Bot,
        handle: Callable[[Update], Awaitable[None]],
        *,
        timeout_s: int,
        allowed_updates: list[str],
    ) -> None:
        self.bot = bot
        self.handle = handle
        self.timeout_s = timeout_s
        self.allowed_updates = allowed_updates
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        # getUpdates is refused while a webhook is set; pending updates are kept.
        await self.bot.delete_webhook(drop_pending_updates=False)
        self._task = asyncio.create_task(self._run(), name="telegram-polling")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _run(self) -> None:
        offset: int | None = None
        failures = 0
        while True:
            try:
                updates = await self.bot.get_updates(
                    offset=offset,
                    timeout=self.timeout_s,
                    allowed_updates=self.allowed_updates,
                    read_timeout=self.timeout_s + 10,
                )
                if updates:
                    crashpoints.reached("telegram.received")
                    await self._handle_batch(updates)
                    offset = updates[-1].update_id + 1  # confirmed by the next getUpdates
                failures = 0
            except asyncio.CancelledError:
                raise
            except (InvalidToken, Forbidden) as error:
                log.error(
                    "telegram: polling stopped: the Bot API refused the token (%s)",
                    type(error).__name__,
                )
                return
            except Exception as error:  # noqa: BLE001 - the loop must outlive any outage
                failures += 1
                delay = min(MAX_BACKOFF_S, 0.5 * 2 ** min(failures, 8))
                kind = "network" if isinstance(error, NetworkError | TimedOut) else "error"
                detail = error.message if isinstance(error, TelegramError) else repr(error)
                log.warning(
                    "telegram: polling %s (%s); retrying in %.1f s, offset %s kept",
                    kind,
                    detail,
                    delay,
                    offset,
                )
                await asyncio.sleep(delay)

    async def _handle_batch(self, updates: Sequence[Update]) -> None:
        by_chat: dict[int, list[Update]] = {}
        for update in updates:
            by_chat.setdefault(chat_of(update), []).append(update)

        async def in_order(chat_updates: list[Update]) -> None:
            for update in chat_updates:
                await self.handle(update)

        results = await asyncio.gather(
            *(in_order(chat_updates) for chat_updates in by_chat.values()),
            return_exceptions=True,
        )
        for result in results:
            if isinstance(result, BaseException):
                raise result  # not confirmed: the batch comes again, stored ones are dropped
