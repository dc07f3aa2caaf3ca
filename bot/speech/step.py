"""The voice turn: a stored voice message is fetched from its platform, checked, transcribed
and handed to a flow that takes voice answers, which shows it back for confirmation.

Run by the turn runner for a message of kind "voice". When the ASR server (or the platform's
file download) is down, `TranscriptionUnavailable` ends the turn as "unavailable": the
message stays pending, the candidate is told once, and the engine's retry loop runs it again
until it is transcribed.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from typing import Protocol, runtime_checkable

from bot.domain import AudioRef, Message, Platform
from bot.downloads import PlatformSources
from bot.flows.base import FlowEvent, FlowState, TurnContext
from bot.speech.audio import AudioProblem, AudioRejected
from bot.speech.transcriber import Transcript, VoiceTranscriber
from bot.texts import text

log = logging.getLogger(__name__)


class AudioSource(Protocol):
    """A platform's file download (the adapter implements it). Raises AudioRejected(TOO_BIG)
    for a file the platform will not hand out, TranscriptionUnavailable when it is down."""

    async def fetch(self, audio: AudioRef) -> bytes: ...


class AudioArchive(Protocol):
    """Where a voice answer's audio is kept when BOT_KEEP_AUDIO is set (the store)."""

    async def keep(
        self, conversation_id: int, sha256: str, source: str, duration_s: float, data: bytes
    ) -> None: ...


@runtime_checkable
class TakesVoice(Protocol):
    """A flow that accepts voice answers (the interview)."""

    def on_voice(
        self, ctx: TurnContext, state: FlowState, transcript: Transcript
    ) -> AsyncIterator[FlowEvent]: ...


class VoiceStep(PlatformSources[AudioSource]):
    def __init__(
        self,
        transcriber: VoiceTranscriber,
        sources: Mapping[Platform, AudioSource] | None = None,
        *,
        archive: AudioArchive | None = None,
    ) -> None:
        """`archive`: keep each transcribed voice note's audio (BOT_KEEP_AUDIO); None, the
        default, keeps only its hash and duration with the answer."""
        super().__init__(sources)
        self.transcriber = transcriber
        self.archive = archive

    async def run(
        self, ctx: TurnContext, flow: object, state: FlowState, action_id: str
    ) -> AsyncIterator[FlowEvent]:
        lang = state.lang
        source = self.sources.get(ctx.user.platform)
        if not isinstance(flow, TakesVoice) or source is None:
            yield Message(text("input_unsupported", lang))
            return
        try:
            audio = AudioRef.parse(action_id)
            limits = self.transcriber.limits
            if audio.size > limits.max_bytes:
                raise AudioRejected(AudioProblem.TOO_BIG, f"{audio.size} bytes reported")
            if audio.duration_s > limits.max_seconds:
                raise AudioRejected(AudioProblem.TOO_LONG, f"{audio.duration_s} s reported")
            data = await source.fetch(audio)
            transcript = await self.transcriber.transcribe(data, f"{audio.source}.ogg", lang)
            if self.archive is not None:
                await self.archive.keep(
                    ctx.conversation_id,
                    transcript.audio_sha256,
                    audio.source,
                    transcript.duration_s,
                    data,
                )
        except ValueError:
            log.warning("conversation %s: unreadable audio reference", ctx.conversation_id)
            yield Message(text("voice_unknown_format", lang))
            return
        except AudioRejected as exc:
            log.info("voice note refused in conversation %s: %s", ctx.conversation_id, exc)
            limit = int(self.transcriber.limits.max_seconds)
            yield Message(text(f"voice_{exc.problem.value}", lang, limit=limit))
            return
        async for event in flow.on_voice(ctx, state, transcript):
            yield event
