"""Replays that share work and progress users can watch (issue 20 item 3, issue 19 item 2):
jobs.merged_into (an attribute job folded into an older job's replay of the same run), the
worker's measured speed (jobs.steps_per_second) and the time left at that speed
(jobs.eta_seconds); runs.interrupted_at (training stopped by Ctrl-C: the ledger holds the run
up to its committed step, shown "interrupted", and resuming continues from there). A column,
not a new status: widening the status CHECK rebuilds `runs` on SQLite, and dropping the old
table there cascades to every value row.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 01:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as table:
        table.add_column(sa.Column("merged_into", sa.Integer(), nullable=True))
        table.add_column(sa.Column("steps_per_second", sa.Double(), nullable=True))
        table.add_column(sa.Column("eta_seconds", sa.Double(), nullable=True))
        table.create_foreign_key(
            op.f("fk_jobs_merged_into_jobs"), "jobs", ["merged_into"], ["id"], ondelete="SET NULL"
        )
    # Plain ALTER TABLE, never a batch rebuild of `runs` (see above).
    op.add_column("runs", sa.Column("interrupted_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("runs", "interrupted_at")  # ALTER TABLE DROP COLUMN: SQLite 3.35+
    with op.batch_alter_table("jobs") as table:
        table.drop_constraint(op.f("fk_jobs_merged_into_jobs"), type_="foreignkey")
        table.drop_column("eta_seconds")
        table.drop_column("steps_per_second")
        table.drop_column("merged_into")
