"""knowledge base: documents, chunks (SQLite FTS5 / PostgreSQL GIN), answers' citations

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "kb_documents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=1024), nullable=False),
        sa.Column("title", sa.String(length=512), nullable=False),
        sa.Column("lang", sa.String(length=8), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("embedder", sa.String(length=255), nullable=False),
        sa.Column("chunk_count", sa.Integer(), nullable=False),
        sa.Column("indexed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_documents")),
        sa.UniqueConstraint("source", name=op.f("uq_kb_documents_source")),
    )
    op.create_table(
        "kb_chunks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("heading", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("lang", sa.String(length=8), nullable=False),
        sa.Column("lexical", sa.Text(), nullable=False),
        sa.Column("embedding", sa.LargeBinary(), nullable=True),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["kb_documents.id"],
            name=op.f("fk_kb_chunks_document_id_kb_documents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_chunks")),
    )
    op.create_index(op.f("ix_kb_chunks_document_id"), "kb_chunks", ["document_id"])
    op.create_table(
        "kb_answers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("query", sa.Text(), nullable=False),
        sa.Column("answered", sa.Boolean(), nullable=False),
        sa.Column("passage_ids", sa.JSON(), nullable=False),
        sa.Column("cited_ids", sa.JSON(), nullable=False),
        sa.Column("model", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_kb_answers_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_answers")),
    )
    op.create_index(op.f("ix_kb_answers_conversation_id"), "kb_answers", ["conversation_id"])
    op.create_index(op.f("ix_kb_answers_answered"), "kb_answers", ["answered"])

    if op.get_bind().dialect.name == "sqlite":
        # An external-content FTS5 table over kb_chunks.lexical, kept in step by triggers.
        op.execute(
            "CREATE VIRTUAL TABLE kb_chunks_fts USING fts5("
            "lexical, content='kb_chunks', content_rowid='id', tokenize='unicode61')"
        )
        op.execute(
            "CREATE TRIGGER kb_chunks_fts_insert AFTER INSERT ON kb_chunks BEGIN "
            "INSERT INTO kb_chunks_fts(rowid, lexical) VALUES (new.id, new.lexical); END"
        )
        op.execute(
            "CREATE TRIGGER kb_chunks_fts_delete AFTER DELETE ON kb_chunks BEGIN "
            "INSERT INTO kb_chunks_fts(kb_chunks_fts, rowid, lexical) "
            "VALUES ('delete', old.id, old.lexical); END"
        )
        op.execute(
            "CREATE TRIGGER kb_chunks_fts_update AFTER UPDATE OF lexical ON kb_chunks BEGIN "
            "INSERT INTO kb_chunks_fts(kb_chunks_fts, rowid, lexical) "
            "VALUES ('delete', old.id, old.lexical); "
            "INSERT INTO kb_chunks_fts(rowid, lexical) VALUES (new.id, new.lexical); END"
        )
    else:
        op.execute(
            "CREATE INDEX ix_kb_chunks_lexical_tsv ON kb_chunks "
            "USING gin (to_tsvector('simple', lexical))"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS kb_chunks_fts_{trigger}")
        op.execute("DROP TABLE IF EXISTS kb_chunks_fts")
    op.drop_table("kb_answers")
    op.drop_table("kb_chunks")
    op.drop_table("kb_documents")
