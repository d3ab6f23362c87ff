"""The ledger's tables as SQLAlchemy 2.0 typed models.

One row per fact: a corpus and its documents, a run and its targets, the absolute cumulative
Shapley value of each (run, target, document), per-visit values stored compactly per
(run, target, step), snapshots of cumulative values for the top documents, the per-step
efficiency series, jobs for the worker, and reports.

Sign convention everywhere: a positive value lowered the target's loss (in nats).

Relationships are `lazy="raise"`: a query that needs related rows says so with an explicit
loader option, so no page ever issues one query per row by accident.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Double,
    Enum,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy import text as sql_text
from sqlalchemy.orm import DeclarativeBase, Mapped, MappedColumn, mapped_column, relationship

# Deterministic constraint names, so Alembic can drop and alter them on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

SHA256_LENGTH = 64  # hex digits


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {  # noqa: RUF012 (SQLAlchemy reads this class attribute)
        dict[str, Any]: JSON,
        float: Double,
    }


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    # native_enum=False: a VARCHAR plus a CHECK constraint, identical on SQLite and PostgreSQL,
    # and adding a member later is a plain migration rather than ALTER TYPE.
    return Enum(
        cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=16,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


def _now() -> MappedColumn[dt.datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)


def _updated() -> MappedColumn[dt.datetime]:
    return mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now(), nullable=False
    )


class RunKind(enum.Enum):
    TRAIN = "train"
    ATTRIBUTE = "attribute"


class RunStatus(enum.Enum):
    CREATED = "created"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class TargetOrigin(enum.Enum):
    UPLOADED = "uploaded"
    GENERATED = "generated"
    FILE = "file"
    REFERENCE = "reference"


class JobStatus(enum.Enum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class ReportFormat(enum.Enum):
    PDF = "pdf"
    HTML = "html"
    JSON = "json"
    CSV = "csv"


class Corpus(Base):
    __tablename__ = "corpora"

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(SHA256_LENGTH), unique=True)
    path: Mapped[str] = mapped_column(Text)
    n_documents: Mapped[int] = mapped_column(Integer)
    n_chunks: Mapped[int | None] = mapped_column(Integer)
    n_tokens: Mapped[int | None] = mapped_column(Integer)
    created: Mapped[dt.datetime] = _now()

    documents: Mapped[list[Document]] = relationship(back_populates="corpus", lazy="raise")


class Document(Base):
    __tablename__ = "documents"
    __table_args__ = (UniqueConstraint("corpus_id", "doc_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    corpus_id: Mapped[int] = mapped_column(ForeignKey("corpora.id", ondelete="CASCADE"))
    doc_key: Mapped[str] = mapped_column(String(255))  # the document's id in the corpus file
    text: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(SHA256_LENGTH))
    source: Mapped[str | None] = mapped_column(String(255))
    author: Mapped[str | None] = mapped_column(String(255))
    license: Mapped[str | None] = mapped_column(String(255))
    url: Mapped[str | None] = mapped_column(Text)
    title: Mapped[str | None] = mapped_column(Text)
    date: Mapped[str | None] = mapped_column(String(64))  # as given in the corpus, unparsed
    metadata_json: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSON)

    corpus: Mapped[Corpus] = relationship(back_populates="documents", lazy="raise")


class Run(Base):
    __tablename__ = "runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_key: Mapped[str] = mapped_column(String(255), unique=True)
    kind: Mapped[RunKind] = mapped_column(_enum(RunKind, "run_kind"))
    parent_run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id", ondelete="SET NULL"))
    corpus_id: Mapped[int | None] = mapped_column(ForeignKey("corpora.id", ondelete="RESTRICT"))
    recipe: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[RunStatus] = mapped_column(_enum(RunStatus, "run_status"))
    initial_weights_sha256: Mapped[str | None] = mapped_column(String(SHA256_LENGTH))
    final_weights_sha256: Mapped[str | None] = mapped_column(String(SHA256_LENGTH))
    tokenizer_sha256: Mapped[str | None] = mapped_column(String(SHA256_LENGTH))
    # The last optimizer step whose values are in the ledger; written in the same transaction
    # as those values, so a crash leaves both at the previous commit.
    committed_step: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # When training was last stopped (Ctrl-C) before the end: the run is shown "interrupted",
    # not "running", up to committed_step; the next commit (the run resumed) clears it. A
    # column, not a status: widening the status CHECK would rebuild `runs` on SQLite, whose
    # DROP TABLE cascades to every value row.
    interrupted_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    created: Mapped[dt.datetime] = _now()
    updated: Mapped[dt.datetime] = _updated()

    parent: Mapped[Run | None] = relationship(remote_side=[id], lazy="raise")
    targets: Mapped[list[Target]] = relationship(back_populates="run", lazy="raise")


class Target(Base):
    __tablename__ = "targets"
    __table_args__ = (UniqueConstraint("run_id", "target_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    target_key: Mapped[str] = mapped_column(String(255))
    text: Mapped[str] = mapped_column(Text)
    prompt: Mapped[str | None] = mapped_column(Text)
    origin: Mapped[TargetOrigin] = mapped_column(_enum(TargetOrigin, "target_origin"))
    # Sums of the positive raw / specific values (nats), exact (math.fsum), written with the
    # values themselves: the denominator of "share of positive value" without a full scan.
    raw_positive_total: Mapped[float | None] = mapped_column(Double)
    specific_positive_total: Mapped[float | None] = mapped_column(Double)

    run: Mapped[Run] = relationship(back_populates="targets", lazy="raise")


# Ranks 1..RANK_INDEXED and the same number from the bottom, by raw and by specific value, are
# the rows the partial rank indexes hold: every top-k / bottom-k read the product makes.
RANK_INDEXED = 1024
# document_values.id = target_id * KEY_STRIDE + document_id (see DocumentValue).
KEY_STRIDE = 1 << 32


def value_key(target_id: int, document_id: int) -> int:
    """The primary key of a (target, document) value row; document ids stay below 2**32."""
    return target_id * KEY_STRIDE + document_id


class DocumentValue(Base):
    """Absolute cumulative value of one document for one target (in nats), with its ranks.

    `raw` is the plain Shapley value; `specific` is the target-specific (contrastive) value.
    Written as absolute numbers, never incremented, so replaying a commit is idempotent.

    Physical layout, chosen for the million-document write (db/README.md, "Bulk value
    writes"): the primary key packs (target, document) into one integer (`value_key`), so on
    SQLite the row lives in the table's own rowid B-tree and a target's rows are appended in
    order, with no second B-tree for a composite key. A target belongs to one run, so the key
    also names the run. `rank_raw` / `rank_specific` are 1-based positions in the target's
    order (value descending, ties by document id descending), computed by the writer; `tail`
    marks the RANK_INDEXED highest and lowest rows of either ranking, the only rows the two
    partial rank indexes hold. `document_id` carries no foreign key: the writer checks every id
    against the run's corpus in the same transaction, and a corpus cannot be deleted while a
    run uses it (runs.corpus_id is RESTRICT); the per-row check cost 12% of the write.
    """

    __tablename__ = "document_values"
    __table_args__ = (
        Index(
            "ix_document_values_tail_raw",
            "target_id",
            "rank_raw",
            sqlite_where=sql_text("tail = 1"),
            postgresql_where=sql_text("tail"),
        ),
        Index(
            "ix_document_values_tail_specific",
            "target_id",
            "rank_specific",
            sqlite_where=sql_text("tail = 1"),
            postgresql_where=sql_text("tail"),
        ),
    )

    # value_key(target_id, document_id). INTEGER on SQLite makes it the rowid; BIGINT elsewhere.
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    )
    target_id: Mapped[int] = mapped_column(ForeignKey("targets.id", ondelete="CASCADE"))
    document_id: Mapped[int] = mapped_column(Integer)
    raw: Mapped[float] = mapped_column(Double)
    specific: Mapped[float] = mapped_column(Double)
    rank_raw: Mapped[int] = mapped_column(Integer)
    rank_specific: Mapped[int] = mapped_column(Integer)
    tail: Mapped[bool] = mapped_column(Boolean)


class FusedRank(Base):
    """One of a target's first documents in the product's default ranking (training contribution
    fused with word overlap, provenance/ranking.py), stored when the target's values are final
    so that reading a top-k needs no BM25 over the corpus.

    `rank` is 1-based in the fused order (documents with a positive specific value only, at
    most RANK_INDEXED of them); `rank_words` is the document's rank by BM25 word overlap with
    the target among every document the run trained on. Written by the application layer,
    which computes the fusion; every rewrite of the target's values deletes them (db/values.py),
    so stored ranks always belong to the values beside them.
    """

    __tablename__ = "fused_ranks"

    target_id: Mapped[int] = mapped_column(
        ForeignKey("targets.id", ondelete="CASCADE"), primary_key=True
    )
    rank: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    document_id: Mapped[int] = mapped_column(Integer)
    rank_words: Mapped[int] = mapped_column(Integer)


class VisitValues(Base):
    """Per-visit values of every document seen at one step, for one target, in one blob.

    Layout of `payload` (little-endian, no header): `n` float64 values (nats, positive = lowered
    the target's loss) followed by `n` int64 document ids (documents.id), where `n = n_rows`.
    `db.values.pack_visits` / `unpack_visits` are the only readers and writers.
    """

    __tablename__ = "visit_values"

    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    target_id: Mapped[int] = mapped_column(
        ForeignKey("targets.id", ondelete="CASCADE"), primary_key=True
    )
    step: Mapped[int] = mapped_column(Integer, primary_key=True)
    n_rows: Mapped[int] = mapped_column(Integer)
    payload: Mapped[bytes] = mapped_column(LargeBinary)


class ValueSnapshot(Base):
    """Cumulative value of a top document at a step: the trajectory charts' points (nats)."""

    __tablename__ = "value_snapshots"

    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    target_id: Mapped[int] = mapped_column(
        ForeignKey("targets.id", ondelete="CASCADE"), primary_key=True
    )
    step: Mapped[int] = mapped_column(Integer, primary_key=True)
    document_id: Mapped[int] = mapped_column(
        ForeignKey("documents.id", ondelete="CASCADE"), primary_key=True
    )
    value: Mapped[float] = mapped_column(Double)


class EfficiencyPoint(Base):
    """Per-step efficiency check: sum of values vs the first-order predicted and measured drop."""

    __tablename__ = "efficiency"

    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    step: Mapped[int] = mapped_column(Integer, primary_key=True)
    target_id: Mapped[int] = mapped_column(
        ForeignKey("targets.id", ondelete="CASCADE"), primary_key=True
    )
    values_sum: Mapped[float] = mapped_column(Double)
    predicted_drop: Mapped[float] = mapped_column(Double)
    target_loss: Mapped[float] = mapped_column(Double)
    # The part of predicted_drop made by weight decay (credited to no document); NULL for
    # steps stored before revision 0004 measured it.
    decay_drop: Mapped[float | None] = mapped_column(Double)


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_status_created", "status", "created"),
        Index("ix_jobs_run_key", "run_key", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    # The run a job works on (payload["run_key"], copied at enqueue): one running job per run.
    run_key: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[JobStatus] = mapped_column(_enum(JobStatus, "job_status"))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    progress: Mapped[float] = mapped_column(Double, default=0.0, server_default="0")
    message: Mapped[str | None] = mapped_column(Text)
    lease_owner: Mapped[str | None] = mapped_column(String(255))
    lease_expires: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    # An attribute job folded into the replay of an older job of the same run: it shares that
    # job's lease, progress and outcome (db/jobs.py merge).
    merged_into: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"))
    # The worker's measured speed (optimizer steps per second, this attempt) and the seconds
    # left at that speed, as of its last progress report; None before the first step.
    steps_per_second: Mapped[float | None] = mapped_column(Double)
    eta_seconds: Mapped[float | None] = mapped_column(Double)
    created: Mapped[dt.datetime] = _now()
    updated: Mapped[dt.datetime] = _updated()


class Report(Base):
    __tablename__ = "reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    target_id: Mapped[int | None] = mapped_column(ForeignKey("targets.id", ondelete="CASCADE"))
    format: Mapped[ReportFormat] = mapped_column(_enum(ReportFormat, "report_format"))
    sha256: Mapped[str] = mapped_column(String(SHA256_LENGTH))
    path: Mapped[str] = mapped_column(Text)
    created: Mapped[dt.datetime] = _now()


class EvidenceLabel(enum.Enum):
    VERBATIM = "verbatim"
    PARAPHRASE = "paraphrase"  # "close paraphrase" in reports
    DIFFUSE = "diffuse"


class EvidenceRow(Base):
    """Textual evidence of one (target, document) pair (attribution_engine/evidence.py).

    `version` names the evidence parameters (thresholds, embedding model, BM25 collection); a
    row of another version is recomputed, never reused. Offsets are characters [start, end) in
    the original texts; `ranges` holds the n-gram highlight ranges {"target": [[s, e], ...],
    "document": [[s, e], ...]}.
    """

    __tablename__ = "evidence"

    target_id: Mapped[int] = mapped_column(
        ForeignKey("targets.id", ondelete="CASCADE"), primary_key=True
    )
    document_id: Mapped[int] = mapped_column(
        ForeignKey("documents.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[str] = mapped_column(String(SHA256_LENGTH))
    label: Mapped[EvidenceLabel] = mapped_column(_enum(EvidenceLabel, "evidence_label"))
    span_words: Mapped[int] = mapped_column(Integer)  # 0: no word in common
    target_start: Mapped[int | None] = mapped_column(Integer)
    target_end: Mapped[int | None] = mapped_column(Integer)
    document_start: Mapped[int | None] = mapped_column(Integer)
    document_end: Mapped[int | None] = mapped_column(Integer)
    ngram_overlap: Mapped[float] = mapped_column(Double)  # share of the target's n-grams, 0..1
    similarity: Mapped[float] = mapped_column(Double)  # cosine, -1..1
    bm25: Mapped[float] = mapped_column(Double)
    ranges: Mapped[dict[str, Any]] = mapped_column(JSON)


class EmbeddingRow(Base):
    """Cached sentence embedding of a text: `dim` little-endian float32 values of unit norm,
    keyed by the embedding model and the SHA-256 of the text (UTF-8)."""

    __tablename__ = "embeddings"

    model: Mapped[str] = mapped_column(String(255), primary_key=True)
    text_sha256: Mapped[str] = mapped_column(String(SHA256_LENGTH), primary_key=True)
    dim: Mapped[int] = mapped_column(Integer)
    vector: Mapped[bytes] = mapped_column(LargeBinary)
