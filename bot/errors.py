"""A small error hierarchy. Users see a kind sentence from `bot.texts`; logs get the detail.

`UserFacingError` carries the key of the text to show, never `str(exception)`.
"""

from __future__ import annotations


class BotError(Exception):
    """Base of the project's own errors."""


class UserFacingError(BotError):
    """Something the user should hear about, in words from `bot.texts`."""

    def __init__(self, text_key: str, detail: str = "") -> None:
        super().__init__(detail or text_key)
        self.text_key = text_key
        self.detail = detail


class ConfigError(BotError):
    """A setting is missing or invalid; the message names the variable."""


class LLMError(BotError):
    """The model backend failed."""


class LLMUnavailable(LLMError):
    """The backend could not be reached, or kept failing before the first token."""


class LLMBadOutput(LLMError):
    """Structured output did not validate, even after the repair attempt."""

    def __init__(self, message: str, raw_output: str) -> None:
        super().__init__(message)
        self.raw_output = raw_output


class DeliveryBlocked(BotError):
    """The platform will not deliver to this user any more (they blocked the bot)."""


class PromptError(BotError):
    """A prompt or role file is invalid; the message names the file and the field."""
