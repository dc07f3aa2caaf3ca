"""A streamed chat completion, sent and read cheaply: the bot's hottest path.

Measured with the bench's model in its own process (200 requests, 20 at a time): through the
openai client, even with its per-chunk objects and message transform avoided, a streamed
request cost 5.5 ms of the bot's CPU before its first token and 43 us per token after it
(the client builds its request options, and httpx reads the stream through several
pure-Python layers). Here the request is one aiohttp POST of a JSON body and the event
stream is read line by line by aiohttp's C parser, then `json.loads`: 0.8 ms per request and
24 us per token on the same bench. What the openai client did for this path is done here:
the bearer token, the connect and read timeouts, proxies from the environment (read once per
session: aiohttp's `trust_env` reads them, and ~/.netrc, again for every request; reading
them once took the scale bench's CPU per model request from 5.2 to 4.6 ms), and HTTP
errors with the server's message and Retry-After (`HTTPRefused`), connection failures and
timeouts as `Unreachable`; the retry policy stays in bot.llm.client.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp.helpers import BasicAuth, get_env_proxy_for_url
from yarl import URL

from bot.llm.types import ChatMessage, Usage

REASONING_FIELDS = ("reasoning_content", "reasoning")  # vLLM's older and newer names
MAX_ERROR_BODY = 64 * 1024  # bytes of an error response read for its message


class StreamError(Exception):
    """The server reported an error inside the event stream, or cut it."""


class Unreachable(Exception):
    """No response: the connection failed or timed out (worth retrying)."""


class HTTPRefused(Exception):
    """The server answered with an HTTP error status."""

    def __init__(self, status: int, message: str, retry_after: float | None) -> None:
        super().__init__(f"HTTP {status}")
        self.status, self.message, self.retry_after = status, message, retry_after


@dataclass(frozen=True, slots=True)
class Piece:
    content: str = ""
    reasoning: str = ""
    finish_reason: str | None = None
    usage: Usage | None = None


class StreamingChat:
    """POST /chat/completions with `stream: true` on one aiohttp session (its connection
    pool kept between requests), made lazily inside the running loop."""

    def __init__(
        self, base_url: str, api_key: str, *, timeout_s: float, connect_timeout_s: float
    ) -> None:
        self._url = base_url.rstrip("/") + "/chat/completions"
        self._headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}
        # Like the openai client's Timeout(timeout_s, connect=...): a bound on connecting and
        # on each wait for bytes, not on the whole (possibly long) answer.
        self._timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=connect_timeout_s, sock_read=timeout_s
        )
        self._session: aiohttp.ClientSession | None = None
        self._proxy: tuple[URL | None, BasicAuth | None] = (None, None)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def open(
        self,
        *,
        model: str,
        messages: Sequence[ChatMessage],
        temperature: float,
        max_tokens: int,
        headers: dict[str, str] | None,
    ) -> aiohttp.ClientResponse:
        """Send the request; the body of a 200 is left unread, an error status raised."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
            self._proxy = _env_proxy(self._url)
        proxy, proxy_auth = self._proxy
        body = {
            "model": model,
            "messages": wire_messages(messages),
            "stream": True,
            "stream_options": {"include_usage": True},
            "temperature": temperature,
            "max_tokens": max_tokens,
        }
        try:
            response = await self._session.post(
                self._url,
                data=json.dumps(body, ensure_ascii=False).encode(),
                headers={**self._headers, **headers} if headers else self._headers,
                proxy=proxy,
                proxy_auth=proxy_auth,
            )
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise Unreachable(type(exc).__name__) from exc
        if response.status != 200:
            try:
                raise await _refusal(response)
            finally:
                response.release()
        return response


def _env_proxy(url: str) -> tuple[URL | None, BasicAuth | None]:
    """The proxy the environment names for `url` (HTTP(S)_PROXY, NO_PROXY, credentials from
    ~/.netrc), as `trust_env` would find it, or none."""
    try:
        return get_env_proxy_for_url(URL(url))
    except LookupError:
        return None, None


async def pieces(response: aiohttp.ClientResponse) -> AsyncIterator[Piece]:
    """One Piece per choice delta (and one for the usage chunk), until `[DONE]`. A stream
    that stops before it, with no finish reason given, was cut: StreamError."""
    finished = False
    try:
        async for raw in response.content:
            if not raw.startswith(b"data:"):
                continue  # blank separators, comments, `event:` lines
            data = raw[5:].strip()
            if data == b"[DONE]":
                return
            chunk = json.loads(data)
            if not isinstance(chunk, dict):
                continue
            if "error" in chunk:
                raise StreamError(str(chunk["error"])[:200])
            usage = _usage(chunk.get("usage"))
            choices = chunk.get("choices") or ()
            if usage is not None and not choices:
                yield Piece(usage=usage)
            for choice in choices:
                finished = finished or bool(choice.get("finish_reason"))
                delta = choice.get("delta") or {}
                reasoning = ""
                for field in REASONING_FIELDS:
                    if delta.get(field):
                        reasoning = str(delta[field])
                        break
                yield Piece(
                    content=delta.get("content") or "",
                    reasoning=reasoning,
                    finish_reason=choice.get("finish_reason"),
                    usage=usage,
                )
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise StreamError(f"the stream was cut: {type(exc).__name__}") from exc
    if not finished:
        raise StreamError("the stream ended before the answer did")


async def _refusal(response: aiohttp.ClientResponse) -> HTTPRefused:
    try:
        raw = await response.content.read(MAX_ERROR_BODY)
    except (aiohttp.ClientError, TimeoutError):
        raw = b""
    text = raw.decode("utf-8", "replace")
    message = text
    try:
        body = json.loads(text)
    except ValueError:
        body = None
    if isinstance(body, dict):  # {"error": {"message": ...}} (OpenAI) or {"message": ...}
        error = body.get("error")
        found = error.get("message") if isinstance(error, dict) else body.get("message")
        if isinstance(found, str):
            message = found
    return HTTPRefused(response.status, message, retry_after(response.headers.get("Retry-After")))


def wire_messages(messages: Sequence[ChatMessage]) -> list[dict[str, str]]:
    """The messages as plain JSON objects of the two fields the server reads."""
    return [{"role": m["role"], "content": m["content"]} for m in messages]


def retry_after(header: str | None) -> float | None:
    """Seconds from a Retry-After header given in seconds (None: absent or a date)."""
    try:
        return max(0.0, float(header or ""))
    except ValueError:
        return None


def _usage(raw: Any) -> Usage | None:
    if not isinstance(raw, dict):
        return None
    details = raw.get("prompt_tokens_details") or {}
    cached = details.get("cached_tokens") if isinstance(details, dict) else None
    return Usage(raw.get("prompt_tokens") or 0, raw.get("completion_tokens") or 0, cached or 0)
