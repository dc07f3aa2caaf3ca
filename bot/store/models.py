"""The tables, as SQLAlchemy declarative models. Only `bot.store` sees them.

Every timestamp is stored as a timezone-aware UTC `DateTime`; SQLite keeps no zone, so
`UtcDateTime` converts to UTC on the way in and puts the zone back on the way out.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from bot.domain import utcnow

# Deterministic constraint names, so migrations can name what they alter or drop.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# The knowledge base's full-text indexes are made by migration 0005 and known to no model:
# SQLite's FTS5 keeps its index in tables of its own (kb_chunks_fts, kb_chunks_fts_data...),
# PostgreSQL has a GIN expression index. Schema comparisons leave them out.
FTS_TABLE_PREFIX = "kb_chunks_fts"
FTS_INDEX = "ix_kb_chunks_lexical_tsv"


def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    """Alembic's filter: everything but the full-text indexes' own objects."""
    if type_ == "table" and (name or "").startswith(FTS_TABLE_PREFIX):
        return False
    return not (type_ == "index" and name == FTS_INDEX)


class UtcDateTime(sa.TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite returns naive ones)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:  # naive means UTC throughout this project
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UtcDateTime, dict[str, Any]: sa.JSON}


class User(Base):
    __tablename__ = "users"
    __table_args__ = (sa.UniqueConstraint("platform", "platform_user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(sa.String(32))
    platform_user_id: Mapped[str] = mapped_column(sa.String(255))
    display_name: Mapped[str] = mapped_column(sa.String(255), default="")
    locale: Mapped[str | None] = mapped_column(sa.String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    deleted_at: Mapped[datetime | None]


class Conversation(Base):
    __tablename__ = "conversations"
    # One ACTIVE conversation per key (migration 0004): closes the first-message race.
    __table_args__ = (
        sa.Index(
            "uq_conversations_active_key",
            "key",
            unique=True,
            sqlite_where=sa.text("status IN ('active', 'handed_off')"),
            postgresql_where=sa.text("status IN ('active', 'handed_off')"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(512), index=True)
    platform: Mapped[str] = mapped_column(sa.String(32))
    chat_id: Mapped[str] = mapped_column(sa.String(255))
    user_key: Mapped[str] = mapped_column(sa.String(255))
    thread_id: Mapped[str] = mapped_column(sa.String(255), default="")
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    flow: Mapped[str] = mapped_column(sa.String(64))
    state: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(sa.String(16), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        sa.Index(None, "conversation_id", "status"),
        sa.Index(None, "conversation_id", "id"),  # a conversation's newest messages (0002)
        # The pending messages by age, for the retry loop's grace period (0008).
        sa.Index(
            "ix_messages_pending_created_at",
            "created_at",
            sqlite_where=sa.text("status = 'pending'"),
            postgresql_where=sa.text("status = 'pending'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(sa.ForeignKey("conversations.id"))
    # Who wrote it (user messages): a shared thread holds several people's messages, and
    # erasing one person must find theirs.
    user_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    role: Mapped[str] = mapped_column(sa.String(16))
    kind: Mapped[str] = mapped_column(sa.String(16))
    text: Mapped[str] = mapped_column(sa.Text)
    action_id: Mapped[str] = mapped_column(sa.String(255), default="")
    status: Mapped[str] = mapped_column(sa.String(16))
    model: Mapped[str] = mapped_column(sa.String(255), default="")
    prompt_version: Mapped[str] = mapped_column(sa.String(64), default="")
    prompt_tokens: Mapped[int | None]
    completion_tokens: Mapped[int | None]
    cached_tokens: Mapped[int | None]
    ttft_ms: Mapped[int | None]
    latency_ms: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    answered_at: Mapped[datetime | None]


class ProcessedEvent(Base):
    """A platform event already stored: the unique pair is what makes dedupe race-safe."""

    __tablename__ = "processed_events"
    __table_args__ = (sa.UniqueConstraint("platform", "event_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(sa.String(32))
    event_id: Mapped[str] = mapped_column(sa.String(255))
    message_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("messages.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Evaluation(Base):
    __tablename__ = "evaluations"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(sa.ForeignKey("conversations.id"), index=True)
    status: Mapped[str] = mapped_column(sa.String(16))
    data: Mapped[dict[str, Any]]
    raw_output: Mapped[str] = mapped_column(sa.Text, default="")
    model: Mapped[str] = mapped_column(sa.String(255), default="")
    prompt_version: Mapped[str] = mapped_column(sa.String(64), default="")
    role_version: Mapped[str] = mapped_column(sa.String(64), default="")
    error: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Invitation(Base):
    __tablename__ = "invitations"

    token: Mapped[str] = mapped_column(sa.String(128), primary_key=True)
    role: Mapped[str] = mapped_column(sa.String(128))
    candidate_name: Mapped[str] = mapped_column(sa.String(255), default="")
    created_by: Mapped[str] = mapped_column(sa.String(255), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None]  # None: never (BOT_INVITATION_TTL_DAYS=0)
    used_at: Mapped[datetime | None]
    used_by_user_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    # A résumé attached by the hiring manager: until used, purged or its candidate erased.
    resume: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON(none_as_null=True))


class Decision(Base):
    __tablename__ = "decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    evaluation_id: Mapped[int] = mapped_column(sa.ForeignKey("evaluations.id"), index=True)
    decision: Mapped[str] = mapped_column(sa.String(32))
    decided_by: Mapped[str] = mapped_column(sa.String(255))
    decided_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    event: Mapped[str] = mapped_column(sa.String(64), index=True)
    actor: Mapped[str] = mapped_column(sa.String(255))
    subject: Mapped[str] = mapped_column(sa.String(255))
    details: Mapped[dict[str, Any]]
    at: Mapped[datetime] = mapped_column(default=utcnow)


class Tombstone(Base):
    """Evidence that a person's data was erased, without who they were: only a hash."""

    __tablename__ = "tombstones"

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(sa.String(32))
    user_hash: Mapped[str] = mapped_column(sa.String(64), index=True)
    deleted_at: Mapped[datetime] = mapped_column(default=utcnow)
    requested_by: Mapped[str] = mapped_column(sa.String(255))


class Outbox(Base):
    """A reply to deliver: written with its turn, marked delivered once the platform took it.

    `message_id` is the stored reply it shows (unique: one delivery per reply); `payload`
    is the output to render (kind, text, buttons)."""

    __tablename__ = "outbox"
    __table_args__ = (sa.Index(None, "state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        sa.ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    message_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("messages.id", ondelete="CASCADE"), unique=True
    )
    payload: Mapped[dict[str, Any]]
    state: Mapped[str] = mapped_column(sa.String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None]


# ---- the help desk (issue 11): answers, feedback on them, hand-offs to people --------


class HelpAnswer(Base):
    """One help-desk answer as the desk sees it: what was asked and how it was answered."""

    __tablename__ = "help_answers"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(sa.ForeignKey("conversations.id"), index=True)
    question: Mapped[str] = mapped_column(sa.Text, default="")
    answer: Mapped[str] = mapped_column(sa.Text, default="")
    outcome: Mapped[str] = mapped_column(sa.String(16), index=True)  # answered|declined|pinned
    cited: Mapped[bool] = mapped_column(default=False)
    sources: Mapped[dict[str, Any]] = mapped_column(default=dict)  # {"items": [...]}
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class HelpFeedback(Base):
    """A thumbs up or down on an answer; one per person and answer (the last one counts)."""

    __tablename__ = "help_feedback"
    __table_args__ = (sa.UniqueConstraint("answer_id", "user_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    answer_id: Mapped[int] = mapped_column(sa.ForeignKey("help_answers.id"), index=True)
    conversation_id: Mapped[int] = mapped_column(sa.ForeignKey("conversations.id"))
    rating: Mapped[str] = mapped_column(sa.String(8))  # up|down
    user_key: Mapped[str] = mapped_column(sa.String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Handoff(Base):
    """A conversation handed to people: where the desk talks about it, and until when."""

    __tablename__ = "handoffs"
    __table_args__ = (sa.Index(None, "desk_channel", "desk_ts"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(sa.ForeignKey("conversations.id"), index=True)
    status: Mapped[str] = mapped_column(sa.String(16), index=True)  # open|resolved
    requested_by: Mapped[str] = mapped_column(sa.String(255), default="")
    question: Mapped[str] = mapped_column(sa.Text, default="")
    desk_channel: Mapped[str] = mapped_column(sa.String(255), default="")
    desk_ts: Mapped[str] = mapped_column(sa.String(64), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[str] = mapped_column(sa.String(255), default="")


# ---- the help desk's knowledge base (bot.store.knowledge) ------------------------------


class KbDocument(Base):
    """One indexed file or URL; `content_hash` decides whether re-indexing touches it."""

    __tablename__ = "kb_documents"

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(sa.String(1024), unique=True)
    title: Mapped[str] = mapped_column(sa.String(512), default="")
    lang: Mapped[str] = mapped_column(sa.String(8), default="en")
    content_hash: Mapped[str] = mapped_column(sa.String(64))
    embedder: Mapped[str] = mapped_column(sa.String(255), default="")
    chunk_count: Mapped[int] = mapped_column(default=0)
    indexed_at: Mapped[datetime] = mapped_column(default=utcnow)


class KbChunk(Base):
    """A passage of a document. `lexical` holds its search terms (bot.knowledge.text);
    SQLite's FTS5 table and PostgreSQL's GIN index are built over that column."""

    __tablename__ = "kb_chunks"

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(
        sa.ForeignKey("kb_documents.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(default=0)
    heading: Mapped[str] = mapped_column(sa.Text, default="")
    text: Mapped[str] = mapped_column(sa.Text)
    lang: Mapped[str] = mapped_column(sa.String(8), default="en")
    lexical: Mapped[str] = mapped_column(sa.Text, default="")
    embedding: Mapped[bytes | None] = mapped_column(sa.LargeBinary)  # float32, normalised


class KbAnswer(Base):
    """Which passages a help-desk answer was given from, or that it declined."""

    __tablename__ = "kb_answers"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        sa.ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    question: Mapped[str] = mapped_column(sa.Text)
    query: Mapped[str] = mapped_column(sa.Text)
    answered: Mapped[bool] = mapped_column(default=False, index=True)
    passage_ids: Mapped[list[int]] = mapped_column(sa.JSON, default=list)
    cited_ids: Mapped[list[int]] = mapped_column(sa.JSON, default=list)
    model: Mapped[str] = mapped_column(sa.String(255), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class VoiceAudio(Base):
    """A voice answer's audio, kept only with BOT_KEEP_AUDIO; goes with its conversation
    (retention, /delete)."""

    __tablename__ = "voice_audio"
    __table_args__ = (sa.UniqueConstraint("conversation_id", "sha256"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        sa.ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    sha256: Mapped[str] = mapped_column(sa.String(64))
    source: Mapped[str] = mapped_column(sa.String(16))  # voice|video_note|audio
    duration_s: Mapped[float] = mapped_column(sa.Float, default=0.0)
    data: Mapped[bytes] = mapped_column(sa.LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# The tables behind the models, for the hot paths written in SQLAlchemy Core (hot.py,
# writes.py, turns.py, outbox.py, history.py): one handle each, typed as a Table.
class TurnCheckpoint(Base):
    """Work a turn saved before it was stored (bot/store/checkpoints.py): one interview
    question's grading. Goes with the turn that stores the evaluation, and with its
    conversation (retention, /delete)."""

    __tablename__ = "turn_checkpoints"

    conversation_id: Mapped[int] = mapped_column(
        sa.ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    data: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


def _table(model: type[Base]) -> sa.Table:
    table = model.__table__
    assert isinstance(table, sa.Table)
    return table


USERS = _table(User)
CONVERSATIONS = _table(Conversation)
MESSAGES = _table(Message)
EVENTS = _table(ProcessedEvent)
EVALUATIONS = _table(Evaluation)
AUDIT = _table(AuditEntry)
OUTBOX = _table(Outbox)
CHECKPOINTS = _table(TurnCheckpoint)
