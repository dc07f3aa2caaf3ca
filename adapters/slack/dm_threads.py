"""Where a top-level DM conversation's replies go (BOT_SLACK_DM_REPLIES=thread).

Slack streams a message only as a reply in a thread (chat.startStream needs a thread_ts),
so a top-level DM message is answered in a thread under that very message, while the
conversation stays the user's one DM conversation (the key has no thread). The key alone
no longer says where to write, so the adapter records, for each message it submits, the
thread its answer belongs in ("" for the DM's main view); the renderer asks which one the
turn being shown now answers.

The engine answers a conversation's messages one at a time, oldest first, and resolves a
message's receipt once its replies are delivered: the turn on screen answers the oldest
message whose receipt is still open. Once all are answered, what the bot says by itself (a
help-desk member's reply relayed, a hand-off resolved) goes to the latest message's thread.

A hint, kept in memory like the channel threads' recipients: after a restart, or when
another process answers, a reply goes to the DM's main view (the inline placement). It is
never lost and never shown twice because of it.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass

from bot.domain import ConversationKey

MAX_CONVERSATIONS = 4096
MAX_ROUTES = 16  # per conversation: messages waiting for an answer, and the latest one
# An unanswered message older than this is taken as answered elsewhere (another process).
STALE_S = 900.0


@dataclass(slots=True)
class Route:
    thread_ts: str  # "" for the DM's main view
    at: float
    done: asyncio.Future[None] | None = None  # None until the engine has accepted it

    def answered(self, now: float) -> bool:
        if self.done is not None and self.done.done():
            return True
        return now - self.at > STALE_S


class ReplyThreads:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._routes: OrderedDict[ConversationKey, deque[Route]] = OrderedDict()
        self._clock = clock

    def open(self, key: ConversationKey, thread_ts: str) -> Route:
        """A message for `key` is being submitted; its answer belongs in `thread_ts`."""
        route = Route(thread_ts, self._clock())
        routes = self._routes.setdefault(key, deque(maxlen=MAX_ROUTES))
        routes.append(route)
        self._routes.move_to_end(key)
        while len(self._routes) > MAX_CONVERSATIONS:
            self._routes.popitem(last=False)
        return route

    def bind(self, route: Route, done: asyncio.Future[None]) -> None:
        """The engine accepted the message: the route lasts until `done` (it is answered)."""
        route.done = done

    def drop(self, key: ConversationKey, route: Route) -> None:
        """Not submitted after all (a duplicate, a failure): forget it."""
        routes = self._routes.get(key)
        if routes is not None and route in routes:
            routes.remove(route)
            if not routes:
                del self._routes[key]

    def thread_of(self, key: ConversationKey) -> str | None:
        """The thread the reply being shown for `key` goes to; None when unknown."""
        routes = self._routes.get(key)
        if not routes:
            return None
        now = self._clock()
        while len(routes) > 1 and routes[0].answered(now):
            routes.popleft()  # answered: the next one is on screen now
        return routes[0].thread_ts
