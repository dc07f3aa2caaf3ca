"""Résumés sent as documents, from Telegram. The engine stores the document message first;
this runs inside its turn."""

from __future__ import annotations

from telegram import Bot

from adapters.telegram.files import download
from bot.domain import DocumentRef
from bot.resume.step import DocumentProblem, DocumentRejected, DocumentUnavailable


def _refused(too_big: bool, message: str) -> Exception:
    return DocumentRejected(
        DocumentProblem.TOO_BIG if too_big else DocumentProblem.UNREADABLE, message
    )


class TelegramDocumentSource:
    def __init__(self, bot: Bot) -> None:
        self._bot = bot

    async def fetch(self, document: DocumentRef) -> bytes:
        return await download(
            self._bot, document.file_id, refused=_refused, unavailable=DocumentUnavailable
        )
