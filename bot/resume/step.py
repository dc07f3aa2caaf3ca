"""The résumé turn: a stored document message is fetched from its platform, checked, parsed
to its visible text, cleaned of grader talk and handed to a flow that takes résumés.

Run by the turn runner for a message of kind "document", like the voice step. The file itself
is never stored: only the cleaned text and the flags, in the flow's state. When the platform's
file download is down, `DocumentUnavailable` ends the turn as "unavailable": the message stays
pending and the engine's retry loop runs it again.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from enum import StrEnum
from typing import Protocol, runtime_checkable

from bot.domain import DocumentRef, Message, Platform
from bot.downloads import PlatformSources
from bot.errors import LLMUnavailable
from bot.flows.base import FlowEvent, FlowState, TurnContext
from bot.resume.match import clean_resume
from bot.resume.parse import UnreadableResume, parse_resume
from bot.resume.types import CleanResume, InvitedResume
from bot.texts import text

log = logging.getLogger(__name__)

MAX_DOCUMENT_BYTES = 5 * 1024 * 1024  # a résumé is a few pages; anything bigger is not one
_SUFFIXES = (".pdf", ".docx")
_MIME_TYPES = (
    "application/pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
)


class DocumentProblem(StrEnum):
    TOO_BIG = "too_big"
    UNSUPPORTED = "unsupported"  # not a PDF or DOCX by its name and type
    UNREADABLE = "unreadable"  # said to be one, but could not be read


class DocumentRejected(Exception):
    def __init__(self, problem: DocumentProblem, detail: str = "") -> None:
        super().__init__(f"{problem.value}: {detail}" if detail else problem.value)
        self.problem = problem


class DocumentUnavailable(LLMUnavailable):
    """The platform's file download is down; the turn is retried (the message is kept)."""


class DocumentSource(Protocol):
    """A platform's file download (the adapter implements it). Raises DocumentRejected
    (TOO_BIG) for a file the platform will not hand out, DocumentUnavailable when it is down."""

    async def fetch(self, document: DocumentRef) -> bytes: ...


@runtime_checkable
class TakesResume(Protocol):
    """A flow that accepts a résumé (the interview)."""

    def on_resume(
        self, ctx: TurnContext, state: FlowState, resume: CleanResume, document: DocumentRef
    ) -> AsyncIterator[FlowEvent]: ...


@runtime_checkable
class TakesInvitedResume(Protocol):
    """A flow whose conversation may start with the résumé the invitation carried."""

    def attach_invited_resume(self, state: FlowState, resume: InvitedResume) -> None: ...


def check_document(document: DocumentRef, max_bytes: int = MAX_DOCUMENT_BYTES) -> None:
    """What the platform says of the file, checked before anything is downloaded."""
    if document.size > max_bytes:
        raise DocumentRejected(DocumentProblem.TOO_BIG, f"{document.size} bytes reported")
    name, mime = document.filename.lower(), document.mime_type.lower()
    if not name.endswith(_SUFFIXES) and mime not in _MIME_TYPES:
        raise DocumentRejected(DocumentProblem.UNSUPPORTED, f"{mime or '?'} {name[-8:]!r}")


def read_resume(
    data: bytes, document: DocumentRef, max_bytes: int = MAX_DOCUMENT_BYTES
) -> CleanResume:
    if len(data) > max_bytes:
        raise DocumentRejected(DocumentProblem.TOO_BIG, f"{len(data)} bytes downloaded")
    name = document.filename or (".pdf" if "pdf" in document.mime_type else ".docx")
    try:
        parsed = parse_resume(data, name)
    except UnreadableResume as exc:
        raise DocumentRejected(DocumentProblem.UNREADABLE, str(exc)) from None
    cleaned = clean_resume(parsed)
    if not cleaned.text:
        raise DocumentRejected(DocumentProblem.UNREADABLE, "no visible text")
    return cleaned


class DocumentStep(PlatformSources[DocumentSource]):
    def __init__(
        self,
        sources: Mapping[Platform, DocumentSource] | None = None,
        max_bytes: int = MAX_DOCUMENT_BYTES,
    ) -> None:
        super().__init__(sources)
        self.max_bytes = max_bytes

    async def run(
        self, ctx: TurnContext, flow: object, state: FlowState, action_id: str
    ) -> AsyncIterator[FlowEvent]:
        lang = state.lang
        source = self.sources.get(ctx.user.platform)
        if not isinstance(flow, TakesResume) or source is None:
            yield Message(text("input_unsupported", lang))
            return
        try:
            document = DocumentRef.parse(action_id)
            check_document(document, self.max_bytes)
            resume = read_resume(await source.fetch(document), document, self.max_bytes)
        except ValueError:
            log.warning("conversation %s: unreadable document reference", ctx.conversation_id)
            yield Message(text("resume_unreadable", lang))
            return
        except DocumentRejected as exc:
            log.info("document refused in conversation %s: %s", ctx.conversation_id, exc)
            yield Message(text(f"resume_{exc.problem.value}", lang, limit=self.max_bytes // 2**20))
            return
        async for event in flow.on_resume(ctx, state, resume, document):
            yield event
