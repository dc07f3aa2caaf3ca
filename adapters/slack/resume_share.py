"""A résumé attached to an invitation. A slash command cannot carry a file, so in the hiring
channel a hiring manager shares the PDF or DOCX with a message mentioning the bot:
`@bot invite <role> [candidate name]`. The file is looked up with files.info, refused when
it is not a PDF or DOCX or is over the limit (before any download), fetched from its
url_private with the bot token in the Authorization header (as Slack requires; the token goes
to Slack's own hosts only), parsed and cleaned like a candidate's résumé, and stored with the
invitation. The answer, with the deep link, is ephemeral, like the /interview command's.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.client import error_of
from adapters.slack.events import is_from_a_person, strip_mention
from bot.domain import DocumentRef
from bot.resume.step import (
    MAX_DOCUMENT_BYTES,
    DocumentProblem,
    DocumentRejected,
    check_document,
    read_resume,
)
from bot.resume.types import CleanResume

log = logging.getLogger(__name__)

JSONDict = dict[str, Any]
DOWNLOAD_TIMEOUT_S = 30.0
_CHUNK = 64 * 1024


class FileUnavailable(Exception):
    """Slack would not hand the file out (an outage, a missing scope, an unknown file)."""


def is_invite_share(event: JSONDict, channel: str | None, bot_user_id: str | None) -> bool:
    """A person's message in the hiring channel with files, mentioning the bot, saying
    `invite ...`: for the hiring desk, not the help desk."""
    if not channel or event.get("channel") != channel or not bot_user_id:
        return False
    body = str(event.get("text") or "")
    if not event.get("files") or f"<@{bot_user_id}" not in body:
        return False
    words = strip_mention(body, bot_user_id).split()
    return bool(words) and words[0].lower() == "invite" and is_from_a_person(event, bot_user_id)


class SlackFiles:
    """Slack's files API for one bot token: files.info, then url_private."""

    def __init__(self, client: AsyncWebClient, token: str, max_bytes: int = MAX_DOCUMENT_BYTES):
        self.client, self.max_bytes = client, max_bytes
        self._token = token
        self._api_host = urlsplit(client.base_url).hostname or "slack.com"

    async def resume(self, file_id: str) -> tuple[CleanResume, str]:
        """The file as a cleaned résumé and its name. Raises DocumentRejected (what the user
        sent is wrong) or FileUnavailable (Slack did not hand it out)."""
        info = await self._info(file_id)
        document = DocumentRef(
            file_id,
            str(info.get("name") or info.get("title") or ""),
            str(info.get("mimetype") or ""),
            int(info.get("size") or 0),
        )
        check_document(document, self.max_bytes)  # before a single byte is downloaded
        url = str(info.get("url_private_download") or info.get("url_private") or "")
        return read_resume(await self._download(url), document, self.max_bytes), document.filename

    async def _info(self, file_id: str) -> JSONDict:
        try:
            response = await self.client.files_info(file=file_id)
        except SlackApiError as failure:
            log.warning("slack: files.info failed: %s", error_of(failure))
            raise FileUnavailable(error_of(failure)) from None
        return dict(response.get("file") or {})

    async def _download(self, url: str) -> bytes:
        host = urlsplit(url).hostname or ""
        if host != self._api_host and not (host == "slack.com" or host.endswith(".slack.com")):
            log.warning("slack: file URL on an unexpected host %r; not fetched", host)
            raise FileUnavailable("unexpected host")
        timeout = aiohttp.ClientTimeout(total=DOWNLOAD_TIMEOUT_S)
        headers = {"Authorization": f"Bearer {self._token}"}
        try:
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.get(url, headers=headers, allow_redirects=False) as response,
            ):
                # Without a valid token Slack redirects to its sign-in page (HTML).
                if response.status != 200 or response.content_type == "text/html":
                    log.warning("slack: file download answered HTTP %d", response.status)
                    raise FileUnavailable(f"HTTP {response.status}")
                return await self._read(response)
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("slack: file download failed: %s", type(exc).__name__)
            raise FileUnavailable(type(exc).__name__) from None

    async def _read(self, response: aiohttp.ClientResponse) -> bytes:
        data = bytearray()
        async for chunk in response.content.iter_chunked(_CHUNK):
            data.extend(chunk)
            if len(data) > self.max_bytes:  # files.info under-reported it: stop reading
                raise DocumentRejected(DocumentProblem.TOO_BIG, "more bytes than reported")
        return bytes(data)
