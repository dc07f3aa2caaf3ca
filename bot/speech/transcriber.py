"""A voice answer to text: limits first, then the ASR server, then clean-up.

The result is a `Transcript`, not an answer: the interview shows it back ("I heard: ...")
and only a transcript the candidate confirms becomes the answer.
"""

from __future__ import annotations

import asyncio
import logging

from pydantic import BaseModel, ConfigDict

from bot.llm.transcription import TranscriptionClient
from bot.speech.audio import AudioLimits, AudioProblem, AudioRejected, inspect_audio
from bot.speech.chinese import has_han, to_simplified

log = logging.getLogger(__name__)

SUPPORTED_LANGS = frozenset({"en", "zh"})


class Transcript(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    text: str
    language: str | None  # what was asked for; None: the server detected it
    duration_s: float
    audio_sha256: str
    model: str  # the ASR model, recorded with a voice answer in the report


class VoiceTranscriber:
    def __init__(self, client: TranscriptionClient, limits: AudioLimits | None = None) -> None:
        self._client = client
        self.limits = limits or AudioLimits()

    async def transcribe(
        self, audio: bytes, filename: str = "voice.ogg", language: str | None = None
    ) -> Transcript:
        """Raises AudioRejected (a limit, or nothing was said) or TranscriptionUnavailable."""
        facts = await asyncio.to_thread(inspect_audio, audio, self.limits)
        lang = language if language in SUPPORTED_LANGS else None
        text = await self._client.transcribe(audio, filename, lang)
        if lang == "zh" or has_han(text):
            text = to_simplified(text)
        if not _says_something(text):
            raise AudioRejected(AudioProblem.SILENT, "empty transcript")
        model = await self._client.model_name()
        log.info(
            "transcribed %.1f s of %s audio (%s) with %s: %d characters",
            facts.duration_s,
            facts.codec,
            lang or "auto",
            model,
            len(text),
        )
        return Transcript(
            text=text,
            language=lang,
            duration_s=facts.duration_s,
            audio_sha256=facts.sha256,
            model=model,
        )


def _says_something(text: str) -> bool:
    """Whisper answers silence with "", punctuation, or "..."; none of those is an answer."""
    return any(ch.isalnum() for ch in text)
