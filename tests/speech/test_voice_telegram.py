"""Voice answers in a Telegram interview: a real OGG/Opus voice note sent through the fake Bot
API, fetched with getFile, transcribed by the real embedded Whisper, shown back, confirmed and
stored as the answer; the outage path (kept, told once, transcribed when ASR is back); the
limits, each with its own sentence."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import jiwer
import pytest

from adapters.telegram import TelegramAdapter, TelegramAudioSource
from bot.domain import AudioRef, Platform
from bot.interview.state import InterviewState
from bot.llm.transcription import TranscriptionClient
from bot.speech.audio import AudioLimits, AudioProblem, AudioRejected, audio_sha256
from bot.speech.step import VoiceStep
from bot.speech.transcriber import VoiceTranscriber
from bot.store.audio import SqlAudioArchive
from bot.texts import text
from tests.fakes.llm_server import Answer, FakeLLMServer
from tests.fakes.telegram import FakeTelegram
from tests.fakes.telegram.files import send_audio
from tests.flows.test_interview import COMPLETE
from tests.harness import Harness, harness
from tests.speech.clips import clip
from tests.speech.fake_asr import FakeASRServer
from tests.telegram.conftest import FAST_RETRIES, FAST_TIMING, settings_for

CHAT = USER = 5151


@asynccontextmanager
async def live_bot(
    tg: FakeTelegram,
    llm_url: str,
    db_url: str,
    asr_url: str,
    limits: AudioLimits | None = None,
    retry_interval_s: float = 60.0,
    keep_audio: bool = False,
) -> AsyncIterator[Harness]:
    # A long retry interval unless a test needs the retry loop: its store calls, cancelled
    # at shutdown, would otherwise finish in aiosqlite's thread after the loop closed.
    asr = TranscriptionClient(asr_url)
    voice = VoiceStep(VoiceTranscriber(asr, limits))
    try:
        async with harness(llm_url, db_url, voice=voice, retry_interval_s=retry_interval_s) as bot:
            if keep_audio:  # BOT_KEEP_AUDIO
                voice.archive = SqlAudioArchive(bot.store)
            adapter = TelegramAdapter(
                settings_for(tg),
                bot.engine,
                poll_timeout_s=5,
                timing=FAST_TIMING,
                policy=FAST_RETRIES,
            )
            voice.register(Platform.TELEGRAM, TelegramAudioSource(adapter.application.bot))
            await adapter.start()
            try:
                yield bot
            finally:
                await adapter.stop()
    finally:
        await asr.close()


async def at_first_question(tg: FakeTelegram, bot: Harness) -> None:
    await bot.store.create_invitation("inv-voice", "python-backend", "Ada", "U-hiring")
    await tg.send_text(CHAT, USER, "/start inv-voice", language_code="en")
    await tg.wait_for(lambda: any(m.buttons for m in tg.transcript(CHAT)))
    consent = next(m for m in tg.transcript(CHAT) if m.buttons)
    accept = next(d for label, d in consent.buttons if label == text("interview_consent_accept"))
    await tg.tap(CHAT, USER, consent.message_id, accept)
    await tg.wait_for(lambda: any("Question 1 of 6:" in t for t in tg.bot_texts(CHAT)))


def heard_message(tg: FakeTelegram):  # type: ignore[no-untyped-def]
    return next(m for m in reversed(tg.transcript(CHAT)) if m.from_bot and m.buttons)


def heard_count(tg: FakeTelegram) -> int:
    return sum(t.startswith("I heard:") for t in tg.bot_texts(CHAT))


async def interview_state(bot: Harness) -> InterviewState:
    [conversation] = await bot.store.list_conversations(flow="interview")
    return InterviewState.from_stored(conversation.state)


async def test_a_voice_note_is_heard_confirmed_and_stored_as_the_answer(
    tg: FakeTelegram, llm_server: FakeLLMServer, db_url: str, whisper_url: str
) -> None:
    sample = clip("en_answer_api.ogg")
    async with live_bot(tg, llm_server.base_url, db_url, whisper_url) as bot:
        await at_first_question(tg, bot)
        await send_audio(tg, CHAT, USER, sample.read(), duration=round(sample.seconds))
        await tg.wait_for(
            lambda: any(t.startswith("I heard:") for t in tg.bot_texts(CHAT)), timeout=120
        )
        heard = heard_message(tg)
        transcript = heard.text.removeprefix("I heard:").strip()
        error = jiwer.wer(sample.text.lower(), transcript.lower())
        assert error <= 0.25, transcript
        labels = [label for label, _ in heard.buttons]
        assert labels == [text("voice_use"), text("voice_record_again"), text("voice_type_instead")]
        state = await interview_state(bot)
        assert state.answers == [] and state.pending_voice is not None  # not an answer yet

        llm_server.enqueue(COMPLETE, Answer(text="Thank you for that answer."))
        use = next(d for label, d in heard.buttons if label == text("voice_use"))
        await tg.tap(CHAT, USER, heard.message_id, use)
        await tg.wait_for(lambda: any("Question 2 of 6:" in t for t in tg.bot_texts(CHAT)))
        await bot.engine.idle()

        [answer] = (await interview_state(bot)).answers
        assert answer.answered_by == "voice"
        assert answer.text == transcript
        assert answer.voice is not None
        assert answer.voice.audio_sha256 == audio_sha256(sample.read())
        assert answer.voice.asr_model == "whisper-base"
        assert answer.voice.duration_s == pytest.approx(sample.seconds, abs=0.2)
        # the transcript reached the model as the candidate's answer, once
        asked = [
            r["messages"][-1]["content"] for r in llm_server.requests if "response_format" not in r
        ]
        assert sum(transcript in q for q in asked) == 1
        assert len(tg.file_store.downloads) == 1


async def test_record_again_and_type_instead_never_count(
    tg: FakeTelegram, llm_server: FakeLLMServer, db_url: str, fake_asr: FakeASRServer
) -> None:
    async with live_bot(tg, llm_server.base_url, db_url, fake_asr.base_url) as bot:
        await at_first_question(tg, bot)
        for n, (choice, reply) in enumerate(
            [
                ("voice_record_again", "voice_record_prompt"),
                ("voice_type_instead", "voice_type_prompt"),
            ]
        ):
            fake_asr.enqueue("Something I did not mean to say.")
            await send_audio(tg, CHAT, USER, clip("en_short_yes.ogg").read())
            await tg.wait_for(lambda n=n: heard_count(tg) == n + 1)
            heard = heard_message(tg)
            data = next(d for label, d in heard.buttons if label == text(choice))
            await tg.tap(CHAT, USER, heard.message_id, data)
            await tg.wait_for(lambda r=reply: text(r) in tg.bot_texts(CHAT))
        await bot.engine.idle()
        state = await interview_state(bot)
        assert state.answers == [] and state.pending_voice is None
        assert state.question_index == 0


async def test_asr_outage_keeps_the_voice_note_and_transcribes_it_when_back(
    tg: FakeTelegram, llm_server: FakeLLMServer, db_url: str, fake_asr: FakeASRServer
) -> None:
    async with live_bot(
        tg, llm_server.base_url, db_url, fake_asr.base_url, retry_interval_s=0.2
    ) as bot:
        await at_first_question(tg, bot)
        for _ in range(3):
            fake_asr.enqueue_status(503)
        fake_asr.enqueue("I have used PostgreSQL for five years.")
        await send_audio(tg, CHAT, USER, clip("en_short_yes.ogg").read())
        await tg.wait_for(lambda: text("voice_unavailable") in tg.bot_texts(CHAT))
        await tg.wait_for(
            lambda: any(t.startswith("I heard:") for t in tg.bot_texts(CHAT)), timeout=20
        )
        assert tg.bot_texts(CHAT).count(text("voice_unavailable")) == 1  # told once
        assert "I have used PostgreSQL for five years." in heard_message(tg).text
        assert len(fake_asr.requests) == 4  # three failures, then the transcript
        assert (await interview_state(bot)).pending_voice is not None


@pytest.mark.parametrize(
    ("name", "size", "limits", "reply"),
    [
        ("en_short_yes.ogg", 21 * 1024 * 1024, None, "voice_too_big"),
        ("en_answer_api.ogg", None, AudioLimits(max_seconds=5), "voice_too_long"),
        ("silence.ogg", None, None, "voice_silent"),
    ],
)
async def test_limits_get_their_own_sentence_and_never_reach_asr(
    tg: FakeTelegram,
    llm_server: FakeLLMServer,
    db_url: str,
    fake_asr: FakeASRServer,
    name: str,
    size: int | None,
    limits: AudioLimits | None,
    reply: str,
) -> None:
    async with live_bot(tg, llm_server.base_url, db_url, fake_asr.base_url, limits) as bot:
        await at_first_question(tg, bot)
        await send_audio(tg, CHAT, USER, clip(name).read(), claimed_size=size)
        await tg.wait_for(lambda: text(reply, limit=5) in tg.bot_texts(CHAT))
        await bot.engine.idle()
        assert fake_asr.requests == []
        assert (await interview_state(bot)).answers == []


async def test_a_file_telegram_will_not_hand_out_is_too_big(tg: FakeTelegram) -> None:
    adapter = TelegramAdapter(settings_for(tg), _NoEngine(), poll_timeout_s=5)  # type: ignore[arg-type]
    bot = adapter.application.bot
    await bot.initialize()
    try:
        file_id = tg.file_store.add(b"x", ".oga", claimed_size=21 * 1024 * 1024)
        with pytest.raises(AudioRejected) as caught:
            await TelegramAudioSource(bot).fetch(AudioRef("voice", file_id))
        assert caught.value.problem is AudioProblem.TOO_BIG
        assert tg.file_store.downloads == []
    finally:
        await bot.shutdown()


class _NoEngine:
    def attach(self, platform: object, renderer: object) -> None:
        pass


@pytest.mark.parametrize("kind", ["video_note", "audio"])
async def test_video_notes_and_audio_files_are_voice_answers_too(
    tg: FakeTelegram, llm_server: FakeLLMServer, db_url: str, fake_asr: FakeASRServer, kind: str
) -> None:
    fake_asr.enqueue("Cursor pagination with a stable sort key.")
    async with live_bot(tg, llm_server.base_url, db_url, fake_asr.base_url) as bot:
        await at_first_question(tg, bot)
        await send_audio(tg, CHAT, USER, clip("en_short_yes.ogg").read(), kind=kind)
        await tg.wait_for(lambda: heard_count(tg) == 1)
        assert "Cursor pagination with a stable sort key." in heard_message(tg).text
        assert fake_asr.requests[0]["language"] == "en"


async def test_audio_is_kept_only_with_keep_audio_and_goes_with_delete(
    tg: FakeTelegram, llm_server: FakeLLMServer, db_url: str, fake_asr: FakeASRServer
) -> None:
    sample = clip("en_short_yes.ogg").read()
    for keep in (False, True):
        chat = CHAT + int(keep)
        async with live_bot(
            tg, llm_server.base_url, db_url, fake_asr.base_url, keep_audio=keep
        ) as bot:
            await bot.store.create_invitation(f"inv-keep-{keep}", "python-backend", "Ada", "U-h")
            await tg.send_text(chat, chat, f"/start inv-keep-{keep}", language_code="en")
            await tg.wait_for(lambda c=chat: any(m.buttons for m in tg.transcript(c)))
            consent = next(m for m in tg.transcript(chat) if m.buttons)
            accept = next(
                d for label, d in consent.buttons if label == text("interview_consent_accept")
            )
            await tg.tap(chat, chat, consent.message_id, accept)
            await tg.wait_for(lambda c=chat: any("Question 1" in t for t in tg.bot_texts(c)))
            fake_asr.enqueue("Yes, I have done that.")
            await send_audio(tg, chat, chat, sample)
            await tg.wait_for(lambda c=chat: any(t.startswith("I heard:") for t in tg.bot_texts(c)))
            await bot.engine.idle()
            archive = SqlAudioArchive(bot.store)
            conversation = await bot.store.active_conversation(
                next(
                    c.key
                    for c in await bot.store.list_conversations()
                    if c.key.chat_id == str(chat)
                )
            )
            assert conversation is not None
            kept = await archive.kept(conversation.id)
            if not keep:
                assert kept == []  # the default: only the hash and duration, with the answer
                continue
            [audio] = kept
            assert audio.data == sample and audio.sha256 == audio_sha256(sample)
            assert audio.source == "voice"

            assert conversation.user_id is not None
            await bot.store.delete_user_data(conversation.user_id, requested_by="self")  # /delete
            assert await archive.kept(conversation.id) == []
