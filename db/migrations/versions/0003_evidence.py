"""Evidence and the embedding cache: textual evidence per (target, document) and sentence
embeddings by (model, text SHA-256) (db/models.py EvidenceRow, EmbeddingRow; db/evidence.py).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 19:37:08.867526
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "embeddings",
        sa.Column("model", sa.String(length=255), nullable=False),
        sa.Column("text_sha256", sa.String(length=64), nullable=False),
        sa.Column("dim", sa.Integer(), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("model", "text_sha256", name=op.f("pk_embeddings")),
    )
    op.create_table(
        "evidence",
        sa.Column("target_id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column(
            "label",
            sa.Enum(
                "verbatim",
                "paraphrase",
                "diffuse",
                name="evidence_label",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("span_words", sa.Integer(), nullable=False),
        sa.Column("target_start", sa.Integer(), nullable=True),
        sa.Column("target_end", sa.Integer(), nullable=True),
        sa.Column("document_start", sa.Integer(), nullable=True),
        sa.Column("document_end", sa.Integer(), nullable=True),
        sa.Column("ngram_overlap", sa.Double(), nullable=False),
        sa.Column("similarity", sa.Double(), nullable=False),
        sa.Column("bm25", sa.Double(), nullable=False),
        sa.Column("ranges", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["documents.id"],
            name=op.f("fk_evidence_document_id_documents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["target_id"],
            ["targets.id"],
            name=op.f("fk_evidence_target_id_targets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("target_id", "document_id", name=op.f("pk_evidence")),
    )


def downgrade() -> None:
    op.drop_table("evidence")
    op.drop_table("embeddings")
