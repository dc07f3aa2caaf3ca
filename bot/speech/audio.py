"""What is in an audio file, read with PyAV (FFmpeg's decoders, shipped in its wheel).

The checks run before anything goes to the ASR server, so a clip that is too long, not
audio, or silent gets its own clear answer instead of a confused transcript.
"""

from __future__ import annotations

import hashlib
import io
import math
from enum import StrEnum

import av
import numpy as np
from pydantic import BaseModel, ConfigDict

ANALYSIS_RATE = 16_000  # Whisper's rate; plenty for a loudness estimate
WINDOW_S = 0.1
# Speech peaks well above -30 dBFS even when recorded quietly; a pocket recording or a muted
# microphone stays below -45 (room noise), so the loudest 100 ms window decides.
SILENCE_DBFS = -45.0


class AudioProblem(StrEnum):
    """Why a clip is refused; each maps to a text key `voice_<value>`."""

    TOO_BIG = "too_big"
    TOO_LONG = "too_long"
    UNKNOWN_FORMAT = "unknown_format"
    SILENT = "silent"


class AudioRejected(Exception):
    """The clip breaks a limit; `problem` says which, for the user's sentence."""

    def __init__(self, problem: AudioProblem, detail: str = "") -> None:
        super().__init__(f"{problem.value}: {detail}" if detail else problem.value)
        self.problem = problem


class AudioFacts(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    duration_s: float
    loudest_dbfs: float
    sha256: str
    codec: str


class AudioLimits(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    max_seconds: float = 180.0
    # the Bot API's getFile refuses files over 20 MB; we refuse the same, locally too
    max_bytes: int = 20 * 1024 * 1024


def audio_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def inspect_audio(data: bytes, limits: AudioLimits) -> AudioFacts:
    """Decode `data` once: its duration and loudness; raises AudioRejected on a limit."""
    if len(data) > limits.max_bytes:
        raise AudioRejected(AudioProblem.TOO_BIG, f"{len(data)} bytes")
    try:
        container = av.open(io.BytesIO(data), mode="r")
    except (av.FFmpegError, ValueError) as exc:
        raise AudioRejected(AudioProblem.UNKNOWN_FORMAT, type(exc).__name__) from None
    with container:
        if not container.streams.audio:
            raise AudioRejected(AudioProblem.UNKNOWN_FORMAT, "no audio stream")
        stream = container.streams.audio[0]
        # the container's own duration (microseconds) stops a 3-hour file before decoding it
        if container.duration is not None and container.duration / 1e6 > limits.max_seconds:
            raise AudioRejected(AudioProblem.TOO_LONG, f"{container.duration / 1e6:.0f} s")
        samples = _decode_mono(container, stream, limits.max_seconds)
        codec = stream.codec_context.name
    duration = len(samples) / ANALYSIS_RATE
    if duration > limits.max_seconds:
        raise AudioRejected(AudioProblem.TOO_LONG, f"{duration:.0f} s")
    if duration == 0:
        raise AudioRejected(AudioProblem.UNKNOWN_FORMAT, "no samples")
    loudest = _loudest_window_dbfs(samples)
    if loudest < SILENCE_DBFS:
        raise AudioRejected(AudioProblem.SILENT, f"{loudest:.0f} dBFS")
    return AudioFacts(
        duration_s=round(duration, 2),
        loudest_dbfs=round(loudest, 1),
        sha256=audio_sha256(data),
        codec=codec,
    )


def _decode_mono(
    container: av.container.InputContainer, stream: av.AudioStream, max_seconds: float
) -> np.ndarray:
    resampler = av.AudioResampler(format="flt", layout="mono", rate=ANALYSIS_RATE)
    chunks: list[np.ndarray] = []
    total = 0
    limit = int((max_seconds + 1) * ANALYSIS_RATE)  # stop decoding once past the limit
    try:
        for frame in container.decode(stream):
            for out in resampler.resample(frame):
                chunk = out.to_ndarray().reshape(-1)
                chunks.append(chunk)
                total += len(chunk)
            if total > limit:
                break
    except (av.FFmpegError, ValueError) as exc:
        raise AudioRejected(AudioProblem.UNKNOWN_FORMAT, type(exc).__name__) from None
    return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)


def _loudest_window_dbfs(samples: np.ndarray) -> float:
    window = int(WINDOW_S * ANALYSIS_RATE)
    usable = len(samples) - len(samples) % window
    if usable == 0:
        rms = float(np.sqrt(np.mean(np.square(samples))))
    else:
        frames = samples[:usable].reshape(-1, window)
        rms = float(np.max(np.sqrt(np.mean(np.square(frames), axis=1))))
    return 20 * math.log10(rms) if rms > 0 else -120.0
