"""`SqlStore`: the `Store` protocol over SQLAlchemy, on SQLite or PostgreSQL.

Each method is one short transaction; the engine never holds a session between calls.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime

from sqlalchemy import or_, select, text, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, async_sessionmaker

from bot.domain import JSON, ConversationKey, Platform, UserRef, utcnow
from bot.store import connect, hot, writes
from bot.store.api import (
    AuditRecord,
    ConversationRecord,
    ConversationStatus,
    DecisionRecord,
    EvaluationRecord,
    InvitationExpired,
    InvitationRecord,
    MessageRecord,
    MessageStatus,
    NewEvaluation,
    Role,
    TurnCommit,
    UserRecord,
)
from bot.store.erasure import (
    delete_conversations,
    delete_expired_invitations,
    drop_invitation_resumes,
    erase_user,
    strip_expired_invitations,
)
from bot.store.history import SOURCES_KIND, recent_history
from bot.store.locks import AdvisoryLocks
from bot.store.models import (
    AuditEntry,
    Conversation,
    Decision,
    Evaluation,
    Invitation,
    Message,
    User,
)
from bot.store.outbox import OutboxQueries
from bot.store.records import (
    audit_record,
    conversation_record,
    decision_record,
    evaluation_record,
    evaluation_row,
    get_row,
    invitation_record,
    message_record,
)
from bot.store.turns import write_turn

log = logging.getLogger(__name__)

PING_TIMEOUT_S = 5.0
DEFAULT_POOL_SIZE = 10  # BOT_DATABASE_POOL_SIZE


class SqlStore(OutboxQueries):
    """Storage over a SQLAlchemy URL: `sqlite+aiosqlite:///path/bot.db` or
    `postgresql+asyncpg://user@host/db`. `schema` (PostgreSQL only) keeps every table in that
    schema, created by `upgrade()` when missing."""

    def __init__(
        self, url: str, *, schema: str | None = None, pool_size: int = DEFAULT_POOL_SIZE
    ) -> None:
        connect.check_schema(schema)
        if pool_size < 2:
            raise ValueError("pool_size must be at least 2 (one is the lock connection)")
        self._url = connect.parse_url(url)
        self._schema = schema
        # PostgreSQL: the lock connection is one of the `pool_size`.
        self._engine = connect.create_engine(self._url, schema, pool_size=pool_size - 1)
        self._is_sqlite = connect.is_sqlite(self._url)
        serial = connect.SerialWrites(self._engine) if self._is_sqlite else None
        self._sessions = serial or async_sessionmaker(self._engine, expire_on_commit=False)
        # The per-message writes (bot.store.writes, bot.store.turns) run on a plain
        # connection, in SQLite's one queue of writers with the sessions.
        self._write: Callable[[], AbstractAsyncContextManager[AsyncConnection]] = (
            serial.connection if serial is not None else self._engine.begin
        )
        # SQLite writers queue for one lock; reads go through their own engine so they
        # never wait behind writers (PostgreSQL needs no such split).
        self._read_engine = (
            connect.create_engine(self._url, schema, read_only=True)
            if self._is_sqlite
            else self._engine
        )
        self._reads = async_sessionmaker(self._read_engine, expire_on_commit=False)
        # A write of one statement (a new person, a new conversation, a delivery marked) is
        # atomic by itself: on PostgreSQL it needs no BEGIN and COMMIT round trips.
        self._write_one = self._write
        if not self._is_sqlite:
            # The hot reads (one statement each) in autocommit: no BEGIN and ROLLBACK round
            # trips around every SELECT. Under READ COMMITTED a statement sees the same
            # snapshot either way. Same pool, same bound.
            autocommit = self._engine.execution_options(isolation_level="AUTOCOMMIT")
            self._read_engine, self._write_one = autocommit, autocommit.begin
        self._lock_engine = (
            None if self._is_sqlite else connect.create_engine(self._url, schema, for_locks=True)
        )
        self._locks = AdvisoryLocks(self._lock_engine) if self._lock_engine is not None else None

    async def upgrade(self) -> None:
        await connect.upgrade(self._engine, self._schema)

    async def close(self) -> None:
        await self._engine.dispose()
        if self._is_sqlite:
            await self._read_engine.dispose()
        if self._locks is not None:
            await self._locks.close()
        if self._lock_engine is not None:
            await self._lock_engine.dispose()

    async def ping(self) -> bool:
        try:
            async with asyncio.timeout(PING_TIMEOUT_S), self._engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except (SQLAlchemyError, OSError, TimeoutError) as exc:
            log.warning("database ping failed (%s): %s", connect.safe_url(self._url), exc)
            return False
        return True

    # ---- users, events, conversations ----------------------------------------------

    async def ensure_user(self, user: UserRef) -> int:
        # Every message asks; nearly always the person is known and unchanged, and a read
        # costs no write lock (SQLite) and no row lock (PostgreSQL).
        known, name, locale = await hot.known_user(
            self._read_engine, user.platform.value, user.platform_user_id
        )
        unchanged = (not user.display_name or name == user.display_name) and (
            not user.locale or locale == user.locale
        )
        if known and unchanged:
            return known
        stored = bool(known)
        for _ in range(2):  # a concurrent insert of the same person: update theirs
            try:
                async with self._write_one() as connection:
                    if stored and (found := await writes.update_user(connection, user)):
                        return found
                    return await writes.insert_user(connection, user, utcnow())
            except IntegrityError:
                stored = True
        raise RuntimeError("could not store the user")  # pragma: no cover

    async def get_user(self, user_id: int) -> UserRecord:
        return await hot.user(self._read_engine, user_id)

    async def event_seen(self, platform: Platform, event_id: str) -> bool:
        return await hot.event_seen(self._read_engine, platform.value, event_id)

    async def active_conversation(self, key: ConversationKey) -> ConversationRecord | None:
        return await hot.active_conversation(self._read_engine, key.as_str())

    async def create_conversation(
        self,
        key: ConversationKey,
        user_id: int | None,
        flow: str,
        state: JSON,
        *,
        supersede: bool = True,
    ) -> ConversationRecord:
        try:
            return await self._create_conversation(key, user_id, flow, state, supersede)
        except IntegrityError:
            # Another process created one on this key at the same moment (the partial
            # unique index allows one ACTIVE per key): this input belongs to theirs.
            winner = await self.active_conversation(key)
            if winner is None:
                raise
            log.info("conversation on %s created concurrently; using %s", key.as_str(), winner.id)
            return winner

    async def _create_conversation(
        self, key: ConversationKey, user_id: int | None, flow: str, state: JSON, supersede: bool
    ) -> ConversationRecord:
        # Superseding is a second statement: then a transaction of its own.
        async with (self._write if supersede else self._write_one)() as connection:
            return await writes.create_conversation(
                connection, key, user_id, flow, state, supersede
            )

    async def get_conversation(self, conversation_id: int) -> ConversationRecord:
        return await hot.conversation(self._read_engine, conversation_id)

    async def set_conversation_status(
        self, conversation_id: int, status: ConversationStatus
    ) -> None:
        async with self._write_one() as connection:
            await writes.set_conversation_status(connection, conversation_id, status)

    async def list_conversations(
        self,
        *,
        flow: str | None = None,
        statuses: tuple[ConversationStatus, ...] = (),
        user_id: int | None = None,
        since: datetime | None = None,
    ) -> list[ConversationRecord]:
        query = select(Conversation).order_by(Conversation.id)
        if flow is not None:
            query = query.where(Conversation.flow == flow)
        if statuses:
            query = query.where(Conversation.status.in_([s.value for s in statuses]))
        if user_id is not None:
            query = query.where(Conversation.user_id == user_id)
        if since is not None:
            query = query.where(Conversation.created_at >= since)
        async with self._reads() as session:
            return [conversation_record(row) for row in await session.scalars(query)]

    # ---- messages and turns -------------------------------------------------------

    async def record_user_message(
        self,
        conversation_id: int,
        *,
        kind: str,
        text: str,
        action_id: str = "",
        event: tuple[Platform, str] | None = None,
        user_id: int | None = None,
    ) -> MessageRecord | None:
        try:
            async with self._write() as connection:
                return await writes.record_user_message(
                    connection,
                    conversation_id,
                    kind=kind,
                    text=text,
                    action_id=action_id,
                    event=event,
                    user_id=user_id,
                )
        except IntegrityError:
            if event is None:
                raise
            log.info("duplicate %s event %s not stored", event[0].value, event[1])
            return None

    async def mark_message(self, message_id: int, status: MessageStatus) -> None:
        async with self._write_one() as connection:
            await writes.mark_message(connection, message_id, status)

    async def pending_messages(self, conversation_id: int) -> list[MessageRecord]:
        return await hot.pending_messages(self._read_engine, conversation_id)

    async def conversations_with_pending(
        self, *, stored_before: datetime | None = None
    ) -> list[int]:
        return await hot.conversations_with_pending(self._read_engine, stored_before)

    async def history(self, conversation_id: int) -> list[MessageRecord]:
        query = (
            select(Message)
            .where(
                Message.conversation_id == conversation_id,
                (
                    (Message.role == Role.USER.value)
                    & (Message.status == MessageStatus.ANSWERED.value)
                )
                | ((Message.role == Role.ASSISTANT.value) & (Message.kind != SOURCES_KIND)),
            )
            .order_by(Message.id)
        )
        async with self._reads() as session:
            return [message_record(row) for row in await session.scalars(query)]

    async def recent_history(self, conversation_id: int, limit: int) -> list[MessageRecord]:
        return await recent_history(self._read_engine, conversation_id, limit)

    async def commit_turn(self, turn: TurnCommit) -> int | None:
        async with self._write() as connection:
            return await write_turn(connection, turn)

    async def get_evaluation(self, evaluation_id: int) -> EvaluationRecord:
        async with self._reads() as session:
            return evaluation_record(await get_row(session, Evaluation, evaluation_id))

    async def evaluations_for(self, conversation_id: int) -> list[EvaluationRecord]:
        query = (
            select(Evaluation)
            .where(Evaluation.conversation_id == conversation_id)
            .order_by(Evaluation.id)
        )
        async with self._reads() as session:
            return [evaluation_record(row) for row in await session.scalars(query)]

    def conversation_lock(self, conversation_id: int) -> AbstractAsyncContextManager[None]:
        # SQLite: the database belongs to one process, whose engine already runs one turn
        # per conversation at a time; there is nobody else to exclude.
        if self._locks is None:
            return _no_lock()
        # The schema is part of the key: deployments sharing a database lock apart.
        key = connect.advisory_key(f"{self._schema or ''}:conversation", conversation_id)
        return self._locks.hold(key)

    # ---- hiring and audit -----------------------------------------------------------

    async def create_invitation(
        self,
        token: str,
        role: str,
        candidate_name: str,
        created_by: str,
        resume: JSON | None = None,
        expires_at: datetime | None = None,
    ) -> InvitationRecord:
        row = Invitation(
            token=token,
            role=role,
            candidate_name=candidate_name,
            created_by=created_by,
            created_at=utcnow(),
            expires_at=expires_at,
            resume=resume,
        )
        try:
            async with self._sessions.begin() as session:
                session.add(row)
        except IntegrityError as exc:
            raise ValueError("an invitation with this token exists") from exc
        return invitation_record(row)

    async def use_invitation(
        self, token: str, user_id: int, *, now: datetime | None = None
    ) -> InvitationRecord | None:
        now = now or utcnow()
        # One conditional UPDATE: of two concurrent uses, the second finds used_at set.
        async with self._sessions.begin() as session:
            row = await session.scalar(
                update(Invitation)
                .where(
                    Invitation.token == token,
                    Invitation.used_at.is_(None),
                    or_(Invitation.expires_at.is_(None), Invitation.expires_at > now),
                )
                .values(used_at=now, used_by_user_id=user_id)
                .returning(Invitation)
            )
            if row is None:  # unknown, used, or expired: only the last one is said apart
                unused = await session.scalar(
                    select(Invitation).where(
                        Invitation.token == token, Invitation.used_at.is_(None)
                    )
                )
                if unused is not None and invitation_record(unused).expired(now):
                    raise InvitationExpired(invitation_record(unused))
                return None
            used = invitation_record(row)
            if used.resume is not None:  # handed to the conversation; not kept twice
                await session.execute(
                    update(Invitation).where(Invitation.token == token).values(resume=None)
                )
            return used

    async def record_decision(
        self, evaluation_id: int, decision: str, decided_by: str
    ) -> DecisionRecord:
        now = utcnow()
        async with self._sessions.begin() as session:
            await get_row(session, Evaluation, evaluation_id)
            row = Decision(
                evaluation_id=evaluation_id,
                decision=decision,
                decided_by=decided_by,
                decided_at=now,
            )
            session.add(row)
            await session.flush()
            session.add(
                AuditEntry(
                    event="decision",
                    actor=decided_by,
                    subject=f"evaluation:{evaluation_id}",
                    details={"decision": decision, "decision_id": row.id},
                    at=now,
                )
            )
            return decision_record(row)

    async def record_rescoring(
        self, conversation_id: int, evaluation: NewEvaluation, actor: str, details: JSON
    ) -> int:
        """A new evaluation of a stored conversation (`chatbot evaluate --conversation`),
        beside the old ones, audited in the same transaction; its id."""
        now = utcnow()
        async with self._sessions.begin() as session:
            await get_row(session, Conversation, conversation_id)
            row = evaluation_row(conversation_id, evaluation, now)
            session.add(row)
            await session.flush()
            session.add(
                AuditEntry(
                    event="rescoring",
                    actor=actor,
                    subject=f"conversation:{conversation_id}",
                    details={**details, "evaluation_id": row.id, "model": evaluation.model},
                    at=now,
                )
            )
            return row.id

    async def decisions(self, evaluation_id: int) -> list[DecisionRecord]:
        query = (
            select(Decision).where(Decision.evaluation_id == evaluation_id).order_by(Decision.id)
        )
        async with self._reads() as session:
            return [decision_record(row) for row in await session.scalars(query)]

    async def audit(self, event: str, actor: str, subject: str, details: JSON) -> None:
        async with self._sessions.begin() as session:
            session.add(
                AuditEntry(event=event, actor=actor, subject=subject, details=details, at=utcnow())
            )

    async def audit_log(
        self, limit: int = 100, *, event: str | None = None, since: datetime | None = None
    ) -> list[AuditRecord]:
        query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
        if event is not None:
            query = query.where(AuditEntry.event == event)
        if since is not None:
            query = query.where(AuditEntry.at >= since)
        async with self._reads() as session:
            return [audit_record(row) for row in await session.scalars(query)]

    async def delete_user_data(self, user_id: int, requested_by: str) -> None:
        async with self._sessions.begin() as session:
            user = await get_row(session, User, user_id)
            hashed = await erase_user(session, user, requested_by)
        log.info("user data erased (tombstone %s..., requested by %s)", hashed[:12], requested_by)

    async def purge_older_than(self, cutoff: datetime, *, now: datetime | None = None) -> int:
        if cutoff.tzinfo is None:
            cutoff = cutoff.replace(tzinfo=UTC)
        now = now or utcnow()
        async with self._sessions.begin() as session:
            old = (
                await session.scalars(
                    select(Conversation.id).where(Conversation.updated_at < cutoff)
                )
            ).all()
            await delete_conversations(session, old)
            resumes = await drop_invitation_resumes(session, cutoff)
            expired = await strip_expired_invitations(session, now)
            gone = await delete_expired_invitations(session, cutoff)
            session.add(
                AuditEntry(
                    event="retention_purge",
                    actor="bot",
                    subject="conversations",
                    details={
                        "cutoff": cutoff.isoformat(),
                        "conversations": len(old),
                        "invitation_resumes": resumes,
                        "expired_invitations": expired,
                        "expired_invitations_deleted": gone,
                    },
                    at=utcnow(),
                )
            )
        log.info(
            "retention purge: %d conversations older than %s; %d expired invitations "
            "emptied, %d deleted",
            len(old),
            cutoff.isoformat(),
            expired,
            gone,
        )
        return len(old)


@asynccontextmanager
async def _no_lock() -> AsyncIterator[None]:
    yield
