"""Résumés sent as documents, from Telegram: `getFile`, then the file download. The engine
stores the document message first; this runs inside its turn."""

from __future__ import annotations

import logging

from telegram import Bot
from telegram.error import BadRequest, NetworkError, TelegramError

from bot.domain import DocumentRef
from bot.resume.step import DocumentProblem, DocumentRejected, DocumentUnavailable

log = logging.getLogger(__name__)


class TelegramDocumentSource:
    def __init__(self, bot: Bot) -> None:
        self._bot = bot

    async def fetch(self, document: DocumentRef) -> bytes:
        try:
            file = await self._bot.get_file(document.file_id)
            return bytes(await file.download_as_bytearray())
        except BadRequest as exc:
            # "file is too big" past 20 MB; "invalid file_id" for one that expired
            log.info("telegram refused a document: %s", exc.message)
            problem = (
                DocumentProblem.TOO_BIG if "too big" in exc.message else DocumentProblem.UNREADABLE
            )
            raise DocumentRejected(problem, exc.message) from None
        except (NetworkError, TelegramError) as exc:  # down or flooded: the turn is retried
            raise DocumentUnavailable(f"telegram getFile failed: {type(exc).__name__}") from exc
