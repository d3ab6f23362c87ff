"""Value rows keyed by (target, document) with stored ranks; jobs.run_key as an indexed column.

document_values: the composite (run, target, document) primary key and the three full indexes
become one packed integer key (target_id * 2**32 + document_id), stored ranks by raw and by
specific value, and two partial rank indexes over each target's 1024 highest and lowest rows
(db/models.py DocumentValue; db/README.md has the measured write speed). Existing rows are
kept: ranks are computed here with window functions, in the order the code uses (value
descending, ties by document id descending).

jobs.run_key: copied out of the JSON payload so that "one running job per run" is an indexed
comparison rather than a JSON extraction per row.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 20:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The SQL below spells out this revision's frozen constants: db.models.KEY_STRIDE (4294967296 =
# 2**32) and RANK_INDEXED (1024). Old rows wait in a holding copy, document_values_0001:
# CREATE TABLE ... AS SELECT runs on SQLite and PostgreSQL alike and carries no constraint or
# index names that would clash with the new table's.


def upgrade() -> None:
    _jobs_run_key_upgrade()
    op.execute("CREATE TABLE document_values_0001 AS SELECT * FROM document_values")
    op.drop_index("ix_document_values_run_document", table_name="document_values")
    op.drop_index("ix_document_values_rank_specific", table_name="document_values")
    op.drop_index("ix_document_values_rank_raw", table_name="document_values")
    op.drop_table("document_values")
    op.create_table(
        "document_values",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("raw", sa.Double(), nullable=False),
        sa.Column("specific", sa.Double(), nullable=False),
        sa.Column("rank_raw", sa.Integer(), nullable=False),
        sa.Column("rank_specific", sa.Integer(), nullable=False),
        sa.Column("tail", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["target_id"],
            ["targets.id"],
            name=op.f("fk_document_values_target_id_targets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_document_values")),
    )
    op.execute(
        "INSERT INTO document_values "
        "(id, target_id, document_id, raw, specific, rank_raw, rank_specific, tail) "
        "SELECT target_id * 4294967296 + document_id, target_id, document_id, raw, specific, "
        "rank_raw, rank_specific, (rank_raw <= 1024 OR rank_raw > n - 1024 "
        "OR rank_specific <= 1024 OR rank_specific > n - 1024) "
        "FROM (SELECT target_id, document_id, raw, specific, "
        "ROW_NUMBER() OVER (PARTITION BY target_id ORDER BY raw DESC, document_id DESC) "
        "AS rank_raw, "
        "ROW_NUMBER() OVER (PARTITION BY target_id ORDER BY specific DESC, document_id DESC) "
        "AS rank_specific, "
        "COUNT(*) OVER (PARTITION BY target_id) AS n FROM document_values_0001) ranked"
    )
    op.drop_table("document_values_0001")
    _rank_indexes()


def _rank_indexes() -> None:
    for name, column in (("raw", "rank_raw"), ("specific", "rank_specific")):
        op.create_index(
            f"ix_document_values_tail_{name}",
            "document_values",
            ["target_id", column],
            unique=False,
            sqlite_where=sa.text("tail = 1"),
            postgresql_where=sa.text("tail"),
        )


def _jobs_run_key_upgrade() -> None:
    op.add_column("jobs", sa.Column("run_key", sa.String(length=255), nullable=True))
    jobs = sa.table(
        "jobs", sa.column("id", sa.Integer), sa.column("payload", sa.JSON), sa.column("run_key")
    )
    bind = op.get_bind()
    for job_id, payload in bind.execute(sa.select(jobs.c.id, jobs.c.payload)).all():
        run_key = (payload or {}).get("run_key")
        if run_key is not None:
            bind.execute(sa.update(jobs).where(jobs.c.id == job_id).values(run_key=run_key))
    op.create_index("ix_jobs_run_key", "jobs", ["run_key", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_jobs_run_key", table_name="jobs")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("run_key")
    op.execute(
        "CREATE TABLE document_values_0001 AS SELECT t.run_id AS run_id, v.target_id AS target_id, "
        "v.document_id AS document_id, v.raw AS raw, v.specific AS specific "
        "FROM document_values v JOIN targets t ON t.id = v.target_id"
    )
    op.drop_index("ix_document_values_tail_specific", table_name="document_values")
    op.drop_index("ix_document_values_tail_raw", table_name="document_values")
    op.drop_table("document_values")
    op.create_table(
        "document_values",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("raw", sa.Double(), nullable=False),
        sa.Column("specific", sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["documents.id"],
            name=op.f("fk_document_values_document_id_documents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_document_values_run_id_runs"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["target_id"],
            ["targets.id"],
            name=op.f("fk_document_values_target_id_targets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "run_id", "target_id", "document_id", name=op.f("pk_document_values")
        ),
    )
    op.execute(
        "INSERT INTO document_values (run_id, target_id, document_id, raw, specific) "
        "SELECT run_id, target_id, document_id, raw, specific FROM document_values_0001"
    )
    op.drop_table("document_values_0001")
    op.create_index(
        "ix_document_values_rank_raw",
        "document_values",
        ["run_id", "target_id", "raw", "document_id"],
        unique=False,
    )
    op.create_index(
        "ix_document_values_rank_specific",
        "document_values",
        ["run_id", "target_id", "specific", "document_id"],
        unique=False,
    )
    op.create_index(
        "ix_document_values_run_document",
        "document_values",
        ["run_id", "document_id"],
        unique=False,
    )
