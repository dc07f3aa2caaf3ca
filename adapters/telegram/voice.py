"""Voice answers' audio from Telegram. The engine stores the voice message first; this runs
inside its turn."""

from __future__ import annotations

from telegram import Bot

from adapters.telegram.files import download
from bot.domain import AudioRef
from bot.llm.transcription import TranscriptionUnavailable
from bot.speech.audio import AudioProblem, AudioRejected


def _refused(too_big: bool, message: str) -> Exception:
    return AudioRejected(AudioProblem.TOO_BIG if too_big else AudioProblem.UNKNOWN_FORMAT, message)


class TelegramAudioSource:
    def __init__(self, bot: Bot) -> None:
        self._bot = bot

    async def fetch(self, audio: AudioRef) -> bytes:
        return await download(
            self._bot, audio.file_id, refused=_refused, unavailable=TranscriptionUnavailable
        )
