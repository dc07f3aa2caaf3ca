"""The context budget: every prompt fits the model's window minus the reply's max_tokens.

Applied inside the LLM seam, so every flow (support, interview, scoring, knowledge answers)
is protected without doing anything. A prompt is seen as three parts: the leading system
messages (role, rubric: always kept, byte-identical), the newest message (always kept,
truncated with a notice only when it alone does not fit) and the history between them,
which is dropped oldest first.

Counting. `estimate` is a conservative upper bound for the BPE tokenizers we serve (SmolLM2,
Qwen2.5, gpt-oss): a message costs PER_MESSAGE_TOKENS for its role markers, one token per three
ASCII characters (English runs at about four) and one per other character (a CJK character is
about one token). Each session keeps the server's exact `usage.prompt_tokens` of the prompt it
sent last, so the next prompt, which usually only appends to it, is counted as that exact
figure plus the estimate of what was added. A session's ratio of real to estimated tokens is
learned from usage and from a refusal, so a tokenizer worse than the estimate (SmolLM2 on
Chinese) is corrected after one observation; the seam shrinks and retries a refused prompt
once (bot.llm.client).

Dropping. History is dropped in large steps: when over budget, the oldest half of what is
still droppable goes. The first history message kept is remembered per session (an anchor),
so the next turns drop exactly the same messages and the prompt's prefix stays byte-stable
between steps, which is what vLLM's prefix cache needs. When the anchor is no longer among
the messages given (the engine's history window moved past it), half is dropped at once, so
a new anchor sits well inside the window. The memory is per process and bounded; losing it
(restart, another worker) costs one prefix-cache miss, never a refusal.
"""

from __future__ import annotations

import logging
import math
import re
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

from bot.errors import LLMError, UserFacingError
from bot.llm.types import ChatMessage

log = logging.getLogger(__name__)

PER_MESSAGE_TOKENS = 8  # role markers of ChatML / harmony / Llama 3 are 4-6 tokens
FIXED_TOKENS = 64  # generation prompt, plus the system preamble some templates add
ASCII_CHARS_PER_TOKEN = 3
MAX_SESSIONS = 4096
TRUNCATION_NOTICE = "\n\n[The rest of this message was cut: it was too long to read whole.]"

_WINDOW_RE = re.compile(r"maximum context length is (\d+)")
_INPUT_RE = re.compile(r"(\d+) input tokens|\((\d+) in the messages")


class ContextOverflow(LLMError):
    """The server refused a prompt as longer than its window (HTTP 400)."""

    def __init__(self, message: str) -> None:
        super().__init__("the server refused the prompt as too long")
        window, prompt = _WINDOW_RE.search(message), _INPUT_RE.search(message)
        self.window = int(window.group(1)) if window else None
        self.prompt_tokens = int(next(g for g in prompt.groups() if g)) if prompt else None


class LLMContextExceeded(UserFacingError):
    """Even after shrinking, the prompt did not fit: the user is told, the message answered."""

    def __init__(self, detail: str) -> None:
        super().__init__("llm_context_exceeded", detail)


def is_context_overflow(status: int, message: str) -> bool:
    return status == 400 and "maximum context length" in message


def estimate(message: ChatMessage) -> int:
    content = message["content"]
    ascii_chars = len(content.encode("ascii", "ignore"))
    other = len(content) - ascii_chars
    return PER_MESSAGE_TOKENS + math.ceil(ascii_chars / ASCII_CHARS_PER_TOKEN) + other


@dataclass(slots=True)
class _Session:
    anchor: int | None = None  # hash of the first history message kept
    sent: tuple[int, ...] = ()  # hashes of the messages of the last prompt sent
    sent_tokens: int | None = None  # the server's exact count for them
    ratio: float = 1.0  # real tokens / estimate, learned; never below 1


@dataclass(frozen=True, slots=True)
class Fitted:
    messages: list[ChatMessage]
    tokens: int  # the count the decision was made on (an upper bound)
    dropped: int  # history messages left out
    truncated: bool  # the newest message was cut
    hashes: tuple[int, ...]
    session_key: str | None  # the session memory this prompt was fitted with


class ContextBudget:
    """Fits prompts to `window - max_tokens`; `window=None` until the server or the
    configuration says (then prompts pass as they are, and a refusal teaches it)."""

    def __init__(self, window: int | None = None) -> None:
        self.window = window
        self._sessions: OrderedDict[str, _Session] = OrderedDict()
        self._ratio = 1.0  # for prompts of no session, and new sessions: raised by refusals

    def fit(
        self, messages: Sequence[ChatMessage], max_tokens: int, session_id: str | None
    ) -> Fitted:
        messages = list(messages)
        hashes = tuple(hash((m["role"], m["content"])) for m in messages)
        costs = [estimate(m) for m in messages]
        session = self._session(session_id, hashes)
        head = _system_prefix(messages)
        middle = range(head, max(head, len(messages) - 1))
        start = self._resume_at(session, hashes, middle) if session else middle.start
        if start > middle.start:
            start = _user_first(messages, start, middle.stop)

        def count(chosen: list[int]) -> int:
            return self._count(session, chosen, hashes, costs)

        def chosen_from(first: int) -> list[int]:
            return [*range(head), *range(first, len(messages))]

        budget = None if self.window is None else self.window - max_tokens
        while budget is not None and count(chosen_from(start)) > budget and start < middle.stop:
            start += max(1, (middle.stop - start + 1) // 2)
            start = _user_first(messages, start, middle.stop)
        chosen = chosen_from(start)
        fitted = [messages[i] for i in chosen]
        tokens = count(chosen)
        truncated = False
        if budget is not None and tokens > budget and len(messages) > head:
            others = count(chosen[:-1])
            fitted[-1], tokens = self._truncate(fitted[-1], others, budget, session)
            truncated = True
        if budget is not None and tokens > budget:
            raise LLMContextExceeded(f"the system prompt alone needs {tokens} > {budget} tokens")
        if session is not None:
            session.anchor = hashes[start] if start < middle.stop else None
        dropped = start - middle.start
        if dropped or truncated:
            log.info(
                "context budget: %d history messages dropped%s, %d of %d tokens",
                dropped,
                ", newest message cut" if truncated else "",
                tokens,
                budget,
            )
        key = self._key(session_id, hashes)
        return Fitted(fitted, tokens, dropped, truncated, tuple(hashes[i] for i in chosen), key)

    def observed(self, fitted: Fitted, prompt_tokens: int) -> None:
        """The server's exact count for a prompt it accepted."""
        session = self._sessions.get(fitted.session_key) if fitted.session_key else None
        if session is None or fitted.truncated or prompt_tokens <= 0:
            return
        estimated = sum(estimate(m) for m in fitted.messages) + FIXED_TOKENS
        session.sent, session.sent_tokens = fitted.hashes, prompt_tokens
        session.ratio = max(1.0, self._ratio, prompt_tokens / estimated)

    def refused(self, fitted: Fitted, refusal: ContextOverflow) -> None:
        """Learn from a refusal: the real window, and how far the count was off."""
        if refusal.window is not None:
            self.window = (
                refusal.window if self.window is None else min(self.window, refusal.window)
            )
        estimated = sum(estimate(m) for m in fitted.messages) + FIXED_TOKENS
        real = refusal.prompt_tokens or int(fitted.tokens * 1.5)
        ratio = max(self._ratio * 1.1, real / estimated * 1.05)
        self._ratio = ratio
        for session in self._sessions.values():
            session.ratio = max(session.ratio, ratio)
            session.sent, session.sent_tokens = (), None
        log.warning(
            "prompt of %s tokens refused (window %s); counting %.2fx from now on",
            refusal.prompt_tokens,
            refusal.window,
            ratio,
        )

    # ---- helpers ---------------------------------------------------------------------

    @staticmethod
    def _key(session_id: str | None, hashes: tuple[int, ...]) -> str | None:
        # One memory per prompt shape: a scoring call shares the conversation's session id
        # but not its system prompt, and must not move the chat's anchor.
        return None if session_id is None else f"{session_id}:{hashes[0] if hashes else ''}"

    def _session(self, session_id: str | None, hashes: tuple[int, ...]) -> _Session | None:
        key = self._key(session_id, hashes)
        if key is None:
            return None
        session = self._sessions.pop(key, None)
        self._sessions[key] = session or _Session(ratio=self._ratio)
        while len(self._sessions) > MAX_SESSIONS:
            self._sessions.popitem(last=False)
        return self._sessions[key]

    @staticmethod
    def _resume_at(session: _Session, hashes: tuple[int, ...], middle: range) -> int:
        if session.anchor is None:
            return middle.start
        for index in middle:
            if hashes[index] == session.anchor:
                return index
        # The anchor left the window the engine loaded: step half-way in at once.
        return middle.start + len(middle) // 2

    def _count(
        self,
        session: _Session | None,
        chosen: list[int],
        hashes: tuple[int, ...],
        costs: list[int],
    ) -> int:
        ratio = session.ratio if session else self._ratio
        if session and session.sent_tokens is not None:
            known = len(session.sent)
            if known <= len(chosen) and tuple(hashes[i] for i in chosen[:known]) == session.sent:
                added = sum(costs[i] for i in chosen[known:])
                return session.sent_tokens + math.ceil(added * ratio)
        return math.ceil((sum(costs[i] for i in chosen) + FIXED_TOKENS) * ratio)

    def _truncate(
        self, message: ChatMessage, others: int, budget: int, session: _Session | None
    ) -> tuple[ChatMessage, int]:
        ratio = session.ratio if session else self._ratio
        content = message["content"]
        low, high = 0, len(content)
        while low < high:  # the longest head of the message that fits
            mid = (low + high + 1) // 2
            cut: ChatMessage = {
                "role": message["role"],
                "content": content[:mid] + TRUNCATION_NOTICE,
            }
            if others + math.ceil(estimate(cut) * ratio) <= budget:
                low = mid
            else:
                high = mid - 1
        kept: ChatMessage = {"role": message["role"], "content": content[:low] + TRUNCATION_NOTICE}
        return kept, others + math.ceil(estimate(kept) * ratio)


def _system_prefix(messages: list[ChatMessage]) -> int:
    count = 0
    while count < len(messages) - 1 and messages[count]["role"] == "system":
        count += 1
    return count


def _user_first(messages: list[ChatMessage], start: int, stop: int) -> int:
    # Some chat templates insist that history after the system prompt opens with a user turn.
    while start < stop and messages[start]["role"] != "user":
        start += 1
    return start
