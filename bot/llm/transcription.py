"""The one client for `/v1/audio/transcriptions`, over `openai.AsyncOpenAI`.

Kept beside the chat client because `openai` is imported only in `bot.llm`. It sends the
language when it is known and never a prompt: with Whisper base a prompt made the server
answer "。" only (issue 12). Connection failures and 5xx answers are `TranscriptionUnavailable`
(the voice note is kept and tried again later); a 4xx answer is `TranscriptionRejected`.
"""

from __future__ import annotations

import logging

import openai

from bot.errors import LLMError, LLMUnavailable

log = logging.getLogger(__name__)


class TranscriptionUnavailable(LLMUnavailable):
    """The ASR server could not be reached or failed on its side; try again later."""


class TranscriptionRejected(LLMError):
    """The ASR server refused this audio (its format, its size): retrying will not help."""


class TranscriptionClient:
    def __init__(
        self,
        base_url: str,
        *,
        model: str | None = None,
        api_key: str = "EMPTY",
        timeout_s: float = 120.0,
        connect_timeout_s: float = 5.0,
    ) -> None:
        self._client = openai.AsyncOpenAI(
            base_url=base_url,
            api_key=api_key,
            max_retries=0,  # a failed voice note is kept and retried by the caller
            timeout=openai.Timeout(timeout_s, connect=connect_timeout_s),
        )
        self._model = model

    async def close(self) -> None:
        await self._client.close()

    async def model_name(self) -> str:
        """BOT_ASR_MODEL, else the first model the server lists."""
        if self._model is None:
            try:
                models = await self._client.models.list()
            except (openai.APIConnectionError, openai.APIStatusError) as exc:
                raise TranscriptionUnavailable(f"ASR /models failed: {type(exc).__name__}") from exc
            if not models.data:
                raise TranscriptionUnavailable("the ASR server lists no model")
            self._model = models.data[0].id
        return self._model

    async def transcribe(self, audio: bytes, filename: str, language: str | None = None) -> str:
        """The transcript of `audio` (any container the server decodes), stripped."""
        model = await self.model_name()
        try:
            if language:
                result = await self._client.audio.transcriptions.create(
                    model=model, file=(filename, audio), language=language, response_format="json"
                )
            else:
                result = await self._client.audio.transcriptions.create(
                    model=model, file=(filename, audio), response_format="json"
                )
        except openai.APIConnectionError as exc:
            raise TranscriptionUnavailable(f"ASR unreachable: {type(exc).__name__}") from exc
        except openai.APIStatusError as exc:
            if exc.status_code >= 500 or exc.status_code in (408, 429):
                raise TranscriptionUnavailable(f"ASR answered {exc.status_code}") from exc
            log.warning("ASR refused %s: %s", filename, exc.status_code)
            raise TranscriptionRejected(f"ASR answered {exc.status_code}") from exc
        return result.text.strip()
