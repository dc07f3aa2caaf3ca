"""Voice notes through the transcription client: the real embedded Whisper server for what it
hears, a strict fake for what the client sends and how it fails."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import jiwer
import pytest

from bot.llm.transcription import (
    TranscriptionClient,
    TranscriptionRejected,
    TranscriptionUnavailable,
)
from bot.speech.audio import AudioLimits, AudioProblem, AudioRejected
from bot.speech.transcriber import VoiceTranscriber
from tests.speech.clips import clip
from tests.speech.fake_asr import FakeASRServer


def normalise(text: str) -> str:
    return jiwer.RemovePunctuation()(text.lower()).replace("-", " ")


async def test_whisper_hears_an_english_voice_note(whisper_url: str) -> None:
    client = TranscriptionClient(whisper_url)
    try:
        transcript = await VoiceTranscriber(client).transcribe(
            clip("en_answer_team.ogg").read(), "voice.ogg", "en"
        )
    finally:
        await client.close()
    reference = clip("en_answer_team.ogg").text
    assert jiwer.wer(normalise(reference), normalise(transcript.text)) <= 0.2, transcript.text
    assert transcript.model == "whisper-base"
    assert transcript.language == "en"
    assert transcript.duration_s == pytest.approx(clip("en_answer_team.ogg").seconds, abs=0.2)


async def test_the_server_refuses_what_is_not_audio(whisper_url: str) -> None:
    client = TranscriptionClient(whisper_url)
    other_model = TranscriptionClient(whisper_url, model="whisper-large")
    try:
        with pytest.raises(TranscriptionRejected):
            await client.transcribe(b"not audio at all " * 64, "voice.ogg", "en")
        with pytest.raises(TranscriptionRejected):  # a model it does not serve
            await other_model.transcribe(clip("en_short_yes.ogg").read(), "voice.ogg")
    finally:
        await client.close()
        await other_model.close()


def test_chatbot_transcribe_prints_the_transcript(whisper_url: str) -> None:
    env = {**os.environ, "BOT_ASR_BASE_URL": whisper_url}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bot",
            "transcribe",
            str(clip("en_short_yes.ogg").path),
            "--lang",
            "en",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "postgre" in done.stdout.lower() and "years" in done.stdout.lower()


def test_chatbot_transcribe_says_when_no_server_answers() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again before the command runs
    env = {**os.environ, "BOT_ASR_BASE_URL": f"http://127.0.0.1:{port}/v1"}
    done = subprocess.run(
        [sys.executable, "-m", "bot", "transcribe", str(clip("en_short_yes.ogg").path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 3
    assert "no ASR server answers" in done.stderr
    assert "Traceback" not in done.stderr


async def test_the_language_is_sent_and_never_a_prompt(fake_asr: FakeASRServer) -> None:
    fake_asr.enqueue("我們團隊每週開會。")
    client = TranscriptionClient(fake_asr.base_url)
    try:
        transcript = await VoiceTranscriber(client).transcribe(
            clip("zh_city.ogg").read(), "voice.ogg", "zh"
        )
    finally:
        await client.close()
    assert transcript.text == "我们团队每周开会。"  # Simplified
    assert transcript.model == "whisper-fake"
    [sent] = fake_asr.requests
    assert sent["language"] == "zh"
    assert "prompt" not in sent
    assert sent["model"] == "whisper-fake"
    assert int(sent["file"]) == len(clip("zh_city.ogg").read())


async def test_an_unknown_language_is_left_to_the_server(fake_asr: FakeASRServer) -> None:
    fake_asr.enqueue("Bonjour")
    client = TranscriptionClient(fake_asr.base_url)
    try:
        await VoiceTranscriber(client).transcribe(clip("en_short_yes.ogg").read(), "v.ogg", "fr")
    finally:
        await client.close()
    assert "language" not in fake_asr.requests[0]


@pytest.mark.parametrize("status", [500, 502, 503, 429])
async def test_a_failing_server_is_unavailable(fake_asr: FakeASRServer, status: int) -> None:
    fake_asr.enqueue_status(status)
    client = TranscriptionClient(fake_asr.base_url)
    try:
        with pytest.raises(TranscriptionUnavailable):
            await VoiceTranscriber(client).transcribe(clip("en_short_yes.ogg").read())
    finally:
        await client.close()


async def test_a_server_that_is_down_is_unavailable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = TranscriptionClient(f"http://127.0.0.1:{port}/v1", model="whisper-base")
    try:
        with pytest.raises(TranscriptionUnavailable):
            await VoiceTranscriber(client).transcribe(clip("en_short_yes.ogg").read())
    finally:
        await client.close()


async def test_limits_are_checked_before_the_server_is_asked(fake_asr: FakeASRServer) -> None:
    client = TranscriptionClient(fake_asr.base_url)
    transcriber = VoiceTranscriber(client, AudioLimits(max_seconds=5))
    try:
        for name, problem in [
            ("en_answer_api.ogg", AudioProblem.TOO_LONG),
            ("silence.ogg", AudioProblem.SILENT),
        ]:
            with pytest.raises(AudioRejected) as caught:
                await transcriber.transcribe(clip(name).read())
            assert caught.value.problem is problem
    finally:
        await client.close()
    assert fake_asr.requests == []


async def test_an_empty_transcript_counts_as_silence(fake_asr: FakeASRServer) -> None:
    fake_asr.enqueue(" ... ")
    client = TranscriptionClient(fake_asr.base_url)
    try:
        with pytest.raises(AudioRejected) as caught:
            await VoiceTranscriber(client).transcribe(clip("en_short_yes.ogg").read())
    finally:
        await client.close()
    assert caught.value.problem is AudioProblem.SILENT
