"""Stored fused ranks: a target's first documents in the default ranking (training contribution
fused with word overlap), written when its values are final, so a top-k read needs no BM25 over
the corpus (db/models.py FusedRank; db/fused_ranks.py). Runs written before this revision have
none and are ranked as before, on read.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 14:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "fused_ranks",
        sa.Column("target_id", sa.Integer(), nullable=False),
        sa.Column("rank", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("rank_words", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["target_id"],
            ["targets.id"],
            name=op.f("fk_fused_ranks_target_id_targets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("target_id", "rank", name=op.f("pk_fused_ranks")),
    )


def downgrade() -> None:
    op.drop_table("fused_ranks")
