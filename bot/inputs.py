"""What the engine accepts as a message: bad input gets a clear answer, not a crash.

The verdict is stored with the message (its kind), so a refusal is answered in order with
the other messages, and everything that can be stored is kept.
"""

from __future__ import annotations

import logging
import re

from bot.domain import Incoming, InputKind
from bot.ratelimit import RATE_LIMITED, RATE_LIMITED_QUIET

log = logging.getLogger(__name__)

# Kinds answered with a notice and stored as REJECTED: never given to a flow or a prompt.
REJECTED_KINDS = frozenset(
    {"empty", "too_long", "binary", InputKind.UNSUPPORTED.value, RATE_LIMITED, RATE_LIMITED_QUIET}
)
STORE_LIMIT = 1_000_000  # characters of one message kept, however long it was
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")  # bytes that were not UTF-8 (surrogateescape)


def check_input(incoming: Incoming, max_chars: int) -> tuple[str, str]:
    """(kind, text to store): kind is an InputKind value, or empty/too_long/binary."""
    body = incoming.text
    if incoming.kind is not InputKind.TEXT:
        return incoming.kind.value, _printable(body)[:2000]
    if _SURROGATE.search(body) or len(_CONTROL.findall(body)) > max(2, len(body) // 100):
        log.info("binary input from %s refused (%d chars)", incoming.key.as_str(), len(body))
        return "binary", ""
    body = _CONTROL.sub("", body)
    if not body.strip():
        log.info("empty input from %s refused", incoming.key.as_str())
        return "empty", ""
    if len(body) > max_chars:
        log.info("input of %d chars from %s refused", len(body), incoming.key.as_str())
        return "too_long", body[:STORE_LIMIT]
    return InputKind.TEXT.value, body.strip()


def _printable(text: str) -> str:
    return _CONTROL.sub("", _SURROGATE.sub("\ufffd", text))
