"""Evidence for the documents a report shows: read from the ledger, computed where missing.

`ensure_evidence` is the one entry point inside a transaction (the report builder), and
`fill_evidence` the one that computes outside it (the UI, the CLI, before a report): the
evidence of each (target, document) pair under the current parameters is computed once,
stored in the ledger (db/evidence.py) and read back afterwards, so two exports agree.
BM25 uses the run's whole corpus as its collection (IDF and length normalisation) up to
`BM25_MAX_DOCUMENTS`; past that, only the scored documents (said in `evidence_method`).

Speed: the corpus's BM25 index is built once and reused (`attribution_engine.evidence.
Bm25Index`, keyed by the corpus's texts, so the ranking and the evidence of every target of a
run share it); sentence embeddings are computed in batches of `BATCH_DOCUMENTS` documents'
passages rather than one call per document; documents are computed in the order given (the
caller lists what is on screen first), and `progress(done, total)` is called after each batch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.metadata import version as package_version

import numpy as np
from sqlalchemy.orm import Session, sessionmaker

from attribution_engine.embeddings import CachedEmbedder, model_version
from attribution_engine.evidence import (
    Evidence,
    Thresholds,
    bm25_scores,
    evidence,
    passages,
    windows,
    words,
)
from db.catalog import get_target, run_targets
from db.evidence import (
    EvidenceRecord,
    corpus_texts,
    lookup_embeddings,
    read_evidence,
    store_embeddings,
    write_evidence,
)
from db.rankings import top_documents
from db.session import read_only, session_scope
from provenance.canonical import sha256
from provenance.ranking import ranked_documents

# Indexing a million documents for one report would take minutes; past this many the BM25
# collection is the scored documents alone (IDF then compares them with each other only).
BM25_MAX_DOCUMENTS = 200_000
# Documents whose passages are embedded in one model call: large enough to batch the model's
# work, small enough that progress moves every second or two on a loaded 2-core machine.
BATCH_DOCUMENTS = 8
Progress = Callable[[int, int], None]  # (documents done, documents to do)
LABELS = {"verbatim": "verbatim", "close paraphrase": "paraphrase", "diffuse": "diffuse"}


def evidence_method(thresholds: Thresholds | None = None) -> dict:
    """The parameters evidence is computed with: reported, and hashed into its version."""
    return {
        "thresholds": (thresholds or Thresholds()).as_dict(),
        "embedding_model": model_version(),
        "bm25": f"bm25s {package_version('bm25s')} (k1=1.5, b=0.75, Lucene IDF)",
        "bm25_collection": (
            f"the run's corpus (up to {BM25_MAX_DOCUMENTS} documents; beyond, the scored ones)"
        ),
        "normalisation": "NFKC, case-folded, Unicode word characters only",
        "labels": {
            "verbatim": "longest common span >= verbatim_min_words words, or >= "
            "verbatim_min_fraction of a short target and >= verbatim_short_min_words words",
            "close paraphrase": "not verbatim, semantic similarity >= paraphrase_min_similarity",
            "diffuse": "neither: the gradient credits the document without direct borrowing",
        },
    }


def evidence_version(thresholds: Thresholds | None = None) -> str:
    return sha256(evidence_method(thresholds))


@dataclass(frozen=True)
class PendingEvidence:
    """Evidence computed and not stored yet (`store_evidence` stores it): the records, and the
    embedding vectors computed on the way (keyed by text SHA-256)."""

    version: str
    records: list[EvidenceRecord]
    vectors: dict[str, np.ndarray]


def compute_evidence(
    session: Session,
    run_key: str,
    target_key: str,
    doc_keys: Sequence[str],
    *,
    thresholds: Thresholds | None = None,
    progress: Progress | None = None,
) -> PendingEvidence:
    """Evidence of the documents whose pair with the target the ledger lacks, computed with
    reads only, so that a read session holds no write lock while the embedding model loads."""
    thresholds = thresholds or Thresholds()
    version = evidence_version(thresholds)
    known = read_evidence(session, run_key, target_key, version)
    missing = [k for k in dict.fromkeys(doc_keys) if k not in known]
    vectors: dict[str, np.ndarray] = {}
    if not missing:
        return PendingEvidence(version, [], vectors)
    embed = CachedEmbedder(
        lambda shas: lookup_embeddings(session, model_version(), shas), vectors.update
    )
    records = _compute(session, run_key, target_key, missing, embed, thresholds, progress)
    return PendingEvidence(version, records, vectors)


def recompute_evidence(
    session: Session,
    run_key: str,
    target_key: str,
    doc_keys: Sequence[str],
    *,
    thresholds: Thresholds | None = None,
) -> dict[str, EvidenceRecord]:
    """Evidence of these pairs computed afresh from the ledger's texts, ignoring stored
    evidence rows and cached embeddings (`verify`: a stored row proves nothing). BM25 scores
    are comparable with stored ones only up to BM25_MAX_DOCUMENTS corpus documents."""
    keys = list(dict.fromkeys(doc_keys))
    records = _compute(session, run_key, target_key, keys, CachedEmbedder(), thresholds)
    return {r.doc_key: r for r in records}


def _compute(
    session, run_key, target_key, doc_keys, embed, thresholds, progress=None
) -> list[EvidenceRecord]:
    thresholds = thresholds or Thresholds()
    target = get_target(session, run_key, target_key)
    texts = corpus_texts(session, run_key)
    keys = list(texts) if len(texts) <= BM25_MAX_DOCUMENTS else doc_keys
    scores = dict(zip(keys, bm25_scores(target.text, [texts[k] for k in keys]), strict=True))
    batched = _Batched(embed)
    target_words = len(words(target.text).tokens)
    target_windows = windows(target.text, thresholds.window_words, thresholds.window_stride)
    records: list[EvidenceRecord] = []
    if progress:
        progress(0, len(doc_keys))
    for start in range(0, len(doc_keys), BATCH_DOCUMENTS):
        chunk = doc_keys[start : start + BATCH_DOCUMENTS]
        batched.prefetch(
            target_windows
            + [p for key in chunk for p in passages(texts[key], target_words, thresholds)]
        )
        records += [
            _record(
                key,
                evidence(
                    target.text, texts[key], embed=batched, bm25=scores[key], thresholds=thresholds
                ),
            )
            for key in chunk
        ]
        if progress:
            progress(len(records), len(doc_keys))
    return records


class _Batched:
    """An embedder that computes many texts in one call (`prefetch`) and then answers each
    document's own call from memory, so the model runs once per batch of documents."""

    def __init__(self, embed):
        self.embed, self.known = embed, {}

    def prefetch(self, texts: Sequence[str]) -> None:
        missing = [t for t in dict.fromkeys(texts) if t not in self.known]
        if missing:
            self.known.update(zip(missing, self.embed(missing), strict=True))

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        self.prefetch(texts)
        return np.stack([self.known[t] for t in texts]).astype(np.float32)


def store_evidence(
    session: Session, run_key: str, target_key: str, pending: PendingEvidence
) -> None:
    """Write computed evidence and its new embeddings. Idempotent: evidence rows replace
    their pair's and known vectors are kept, so two processes filling the same pairs agree."""
    store_embeddings(session, model_version(), pending.vectors)
    write_evidence(session, run_key, target_key, pending.version, pending.records)


def ensure_evidence(
    session: Session,
    run_key: str,
    target_key: str,
    doc_keys: Sequence[str],
    *,
    compute: bool = True,
    thresholds: Thresholds | None = None,
) -> dict[str, EvidenceRecord]:
    """Evidence of these documents for the target, by document key.

    Missing pairs are computed and written in the caller's transaction (`fill_evidence` first
    keeps that transaction short); with compute=False (verify) they are left out instead.
    """
    if compute:
        pending = compute_evidence(session, run_key, target_key, doc_keys, thresholds=thresholds)
        store_evidence(session, run_key, target_key, pending)
    known = read_evidence(session, run_key, target_key, evidence_version(thresholds))
    return {k: known[k] for k in doc_keys if k in known}


def fill_evidence(
    factory: sessionmaker[Session],
    run_key: str,
    target_key: str,
    doc_keys: Sequence[str],
    *,
    thresholds: Thresholds | None = None,
    progress: Progress | None = None,
) -> int:
    """Compute the evidence the ledger lacks for these documents in a read transaction (the
    embedding model loads for seconds) and store it in a short write one, so that a training
    run's ledger commits never wait on it. Returns how many of the pairs the ledger now has.
    `factory` makes write sessions; `progress(done, total)` hears of each batch of documents
    computed (only missing pairs count; none is called when nothing is missing)."""
    with session_scope(read_only(factory)) as session:
        pending = compute_evidence(
            session, run_key, target_key, doc_keys, thresholds=thresholds, progress=progress
        )
    with session_scope(factory) as session:
        store_evidence(session, run_key, target_key, pending)
        known = read_evidence(session, run_key, target_key, pending.version)
    return len(set(doc_keys) & known.keys())


def _record(doc_key: str, found: Evidence) -> EvidenceRecord:
    span = found.span
    return EvidenceRecord(
        doc_key=doc_key,
        label=LABELS[found.label.value],
        span_words=span.words if span else 0,
        target_start=span.target_start if span else None,
        target_end=span.target_end if span else None,
        document_start=span.document_start if span else None,
        document_end=span.document_end if span else None,
        ngram_overlap=found.ngram_overlap,
        similarity=found.similarity,
        bm25=found.bm25,
        ranges={
            "target": [list(r) for r in found.target_ranges],
            "document": [list(r) for r in found.document_ranges],
        },
    )


def run_evidence(
    factory: sessionmaker[Session], run_key: str, k: int, target_key: str | None = None
) -> int:
    """Evidence of the first k documents (default ranking), the k highest and the k lowest by
    specific value of every target of a run (reference targets excluded), or of one target;
    returns the number of pairs. Each target's evidence is computed outside the write
    transaction (`fill_evidence`)."""
    with session_scope(read_only(factory)) as session:
        keys = [target_key] if target_key else [t.target_key for t in run_targets(session, run_key)]
        wanted = {
            key: list(
                dict.fromkeys(
                    ranked_documents(session, run_key, key, k)["doc_key"].tolist()
                    + top_documents(session, run_key, key, k)["doc_key"].tolist()
                    + top_documents(session, run_key, key, k, ascending=True)["doc_key"].tolist()
                )
            )
            for key in keys
        }
    return sum(fill_evidence(factory, run_key, key, docs) for key, docs in wanted.items())
