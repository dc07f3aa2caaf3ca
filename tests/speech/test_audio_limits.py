"""The checks made before any audio reaches the ASR server, on real OGG/Opus voice notes."""

from __future__ import annotations

import io
import math

import av
import numpy as np
import pytest

from bot.speech.audio import AudioLimits, AudioProblem, AudioRejected, audio_sha256, inspect_audio
from bot.speech.chinese import to_simplified
from tests.speech.clips import clip, clips


@pytest.mark.parametrize("name", [c.name for c in clips() if c.text])
def test_a_voice_note_is_measured(name: str) -> None:
    sample = clip(name)
    facts = inspect_audio(sample.read(), AudioLimits())
    assert facts.codec == "opus"
    assert math.isclose(facts.duration_s, sample.seconds, abs_tol=0.2)
    assert facts.loudest_dbfs > -30
    assert facts.sha256 == audio_sha256(sample.read())


def test_longer_than_the_limit_is_refused() -> None:
    sample = clip("en_answer_api.ogg")  # 15 s
    with pytest.raises(AudioRejected) as caught:
        inspect_audio(sample.read(), AudioLimits(max_seconds=10))
    assert caught.value.problem is AudioProblem.TOO_LONG
    assert inspect_audio(sample.read(), AudioLimits(max_seconds=16)).duration_s > 15


def test_bigger_than_the_download_limit_is_refused_before_decoding() -> None:
    with pytest.raises(AudioRejected) as caught:
        inspect_audio(b"\0" * (20 * 1024 * 1024 + 1), AudioLimits())
    assert caught.value.problem is AudioProblem.TOO_BIG


@pytest.mark.parametrize(
    "data",
    [b"", b"just some text, not audio " * 50, b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8],
    ids=["empty", "text", "png"],
)
def test_unknown_formats_are_refused(data: bytes) -> None:
    with pytest.raises(AudioRejected) as caught:
        inspect_audio(data, AudioLimits())
    assert caught.value.problem is AudioProblem.UNKNOWN_FORMAT


def test_silence_is_refused() -> None:
    with pytest.raises(AudioRejected) as caught:
        inspect_audio(clip("silence.ogg").read(), AudioLimits())
    assert caught.value.problem is AudioProblem.SILENT


def test_a_long_file_without_a_duration_header_stops_decoding_at_the_limit() -> None:
    # raw ADTS-less WAV written by PyAV has a duration; a 12 s tone in WAV must still stop
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="wav") as out:
        stream = out.add_stream("pcm_s16le", rate=16000)
        stream.layout = "mono"
        tone = (0.3 * np.sin(np.arange(16000 * 12) * 2 * np.pi * 440 / 16000)).astype(np.float32)
        frame = av.AudioFrame.from_ndarray(
            (tone * 32767).astype(np.int16).reshape(1, -1), format="s16", layout="mono"
        )
        frame.sample_rate = 16000
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    with pytest.raises(AudioRejected) as caught:
        inspect_audio(buffer.getvalue(), AudioLimits(max_seconds=5))
    assert caught.value.problem is AudioProblem.TOO_LONG


def test_traditional_chinese_becomes_simplified() -> None:
    assert (
        to_simplified("我們團隊每週開會，討論上線的問題。") == "我们团队每周开会，讨论上线的问题。"
    )
    assert to_simplified("plain English stays") == "plain English stays"
