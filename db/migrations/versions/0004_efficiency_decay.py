"""efficiency.decay_drop: the part of each step's first-order predicted drop that weight decay
made (g_v . lr * weight_decay * w, credited to no document), so that the efficiency check can
show which term separates the documents' values from the measured drop (db/models.py
EfficiencyPoint). NULL for steps stored before it was measured.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 06:15:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("efficiency") as table:
        table.add_column(sa.Column("decay_drop", sa.Double(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("efficiency") as table:
        table.drop_column("decay_drop")
