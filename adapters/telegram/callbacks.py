"""Button identity <-> Telegram callback_data (at most 64 bytes).

`action_id|value` when it fits, which survives restarts. A longer pair is kept in a bounded
in-memory table under a short digest (`#` + 16 characters); after a restart such a tap
decodes to nothing and the engine is told nothing (the adapter answers the tap and logs).
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict

MAX_CALLBACK_BYTES = 64
_SEPARATOR = "|"
_DIGEST_PREFIX = "#"


class CallbackCodec:
    def __init__(self, remembered: int = 4096) -> None:
        self._long: OrderedDict[str, tuple[str, str]] = OrderedDict()
        self._remembered = remembered

    def encode(self, action_id: str, value: str) -> str:
        plain = f"{action_id}{_SEPARATOR}{value}"
        fits = len(plain.encode("utf-8")) <= MAX_CALLBACK_BYTES
        if fits and _SEPARATOR not in action_id and not action_id.startswith(_DIGEST_PREFIX):
            return plain
        digest = hashlib.sha256(plain.encode("utf-8")).hexdigest()[:16]
        token = f"{_DIGEST_PREFIX}{digest}"
        self._long[token] = (action_id, value)
        self._long.move_to_end(token)
        while len(self._long) > self._remembered:
            self._long.popitem(last=False)
        return token

    def decode(self, data: str) -> tuple[str, str] | None:
        """(action_id, value), or None for data this process does not know."""
        if data.startswith(_DIGEST_PREFIX):
            return self._long.get(data)
        action_id, separator, value = data.partition(_SEPARATOR)
        if not separator or not action_id:
            return None
        return action_id, value
