"""Voice answers' audio from Telegram: `getFile`, then the file download (Bot API limit:
20 MB). The engine stores the voice message first; this runs inside its turn."""

from __future__ import annotations

import logging

from telegram import Bot
from telegram.error import BadRequest, NetworkError, TelegramError

from bot.domain import AudioRef
from bot.llm.transcription import TranscriptionUnavailable
from bot.speech.audio import AudioProblem, AudioRejected

log = logging.getLogger(__name__)


class TelegramAudioSource:
    def __init__(self, bot: Bot) -> None:
        self._bot = bot

    async def fetch(self, audio: AudioRef) -> bytes:
        try:
            file = await self._bot.get_file(audio.file_id)
            return bytes(await file.download_as_bytearray())
        except BadRequest as exc:
            # "file is too big" past 20 MB; "invalid file_id" for one that expired
            log.info("telegram refused file %s: %s", audio.source, exc.message)
            problem = (
                AudioProblem.TOO_BIG if "too big" in exc.message else AudioProblem.UNKNOWN_FORMAT
            )
            raise AudioRejected(problem, exc.message) from None
        except (NetworkError, TelegramError) as exc:  # down or flooded: the turn is retried
            raise TranscriptionUnavailable(
                f"telegram getFile failed: {type(exc).__name__}"
            ) from exc
