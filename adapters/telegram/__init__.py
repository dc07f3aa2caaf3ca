"""The Telegram adapter: python-telegram-bot over the Bot API (or a fake, via base_url)."""

import os

# Opt into PTB's future behaviour (durations as `timedelta`) now: without it, reading
# `RetryAfter.retry_after` and similar fields emits a deprecation warning on every 429.
os.environ.setdefault("PTB_TIMEDELTA", "true")

from adapters.telegram.adapter import TelegramAdapter
from adapters.telegram.documents import TelegramDocumentSource
from adapters.telegram.formatting import markdown_to_html, split_text
from adapters.telegram.renderer import TelegramRenderer
from adapters.telegram.sender import RenderTiming
from adapters.telegram.voice import TelegramAudioSource

__all__ = [
    "RenderTiming",
    "TelegramAdapter",
    "TelegramAudioSource",
    "TelegramDocumentSource",
    "TelegramRenderer",
    "markdown_to_html",
    "split_text",
]
