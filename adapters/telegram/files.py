"""A file a user sent, from Telegram: `getFile`, then the download (Bot API limit: 20 MB).
One path for voice notes and résumés; each says what a refusal and an outage mean to it."""

from __future__ import annotations

import logging
from collections.abc import Callable

from telegram import Bot
from telegram.error import BadRequest, NetworkError, TelegramError

log = logging.getLogger(__name__)


async def download(
    bot: Bot,
    file_id: str,
    *,
    refused: Callable[[bool, str], Exception],
    unavailable: Callable[[str], Exception],
) -> bytes:
    """The file's bytes. Raises `refused(too_big, message)` when Telegram will not hand it
    out ("file is too big" past 20 MB, "invalid file_id" for one that expired), and
    `unavailable(detail)` when Telegram is down or flooded (the turn is retried)."""
    try:
        file = await bot.get_file(file_id)
        return bytes(await file.download_as_bytearray())
    except BadRequest as exc:
        log.info("telegram refused a file: %s", exc.message)
        raise refused("too big" in exc.message, exc.message) from None
    except (NetworkError, TelegramError) as exc:
        raise unavailable(f"telegram getFile failed: {type(exc).__name__}") from exc
