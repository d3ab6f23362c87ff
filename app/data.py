"""Cached reads of the ledger for the pages, and the few writes the UI makes (enqueue a job).

The engine and its sessionmakers live behind `st.cache_resource` (one per ledger URL and
process); reads return DataFrames behind `st.cache_data` with a short TTL, so a page rerun
does not query again, while progress written by a worker shows up within seconds. Every
cached function takes the URL as its first argument: two ledgers never share a cache entry.

Where the ledger is: `PROVENANCE_DB_URL`, else SQLite in the data directory
(`PROVENANCE_DATA_DIR`, default `provenance-data`), via `db.session.url_from_environment`,
the only reader of the database variables. `provenance ui` sets both for the server.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from attribution_engine.targets import TargetText
from db import catalog, jobs, listings, rankings
from db.schema import SchemaOutOfDate, check_schema, current_revision, upgrade
from db.search import SearchResult, search_documents
from db.session import make_engine, make_sessionmaker, safe_url, session_scope, url_from_environment
from db.values import DocumentVisits, document_visits, trained_count
from provenance import jobs as provenance_jobs
from provenance import pending, ranking
from provenance.jobs import JobPayload
from provenance.jobs.roots import Roots
from provenance.recipe import Recipe
from provenance.serve import ENV_ALLOWED_HOSTS
from provenance.serve import allowed_hosts as serve_hosts

ENV_DATA_DIR = "PROVENANCE_DATA_DIR"
DEFAULT_DATA_DIR = Path("provenance-data")  # the CLI's --out default
READ_TTL_S = 5  # values change only at a worker's checkpoint commit
JOBS_TTL_S = 1  # job progress is watched live


def data_dir() -> Path:
    """The data directory: runs, uploads and (by default) the SQLite ledger live there."""
    return Path(os.environ.get(ENV_DATA_DIR) or DEFAULT_DATA_DIR)


def allowed_hosts() -> tuple[str, ...]:
    """The Host names the pages answer to: PROVENANCE_ALLOWED_HOSTS (set by `provenance ui`),
    else the local names on this server's port."""
    listed = os.environ.get(ENV_ALLOWED_HOSTS, "")
    hosts = tuple(h.strip() for h in listed.split(",") if h.strip())
    return hosts or serve_hosts(int(st.get_option("server.port")))


def roots() -> Roots:
    """The corpus, model and upload folders of the data directory: the only places the Runs
    page offers to read from (the worker checks its own again)."""
    return Roots(data_dir())


def ledger_url() -> str:
    return url_from_environment(os.environ, data_dir())


@dataclass(frozen=True)
class Ledger:
    engine: Engine
    read: sessionmaker[Session]
    write: sessionmaker[Session]


@st.cache_resource(show_spinner=False)
def _ledger(url: str) -> Ledger:
    engine = make_engine(url)
    # A brand-new database gets the schema, as `provenance train` does; an existing one at
    # another revision is refused by check_schema below, never migrated behind the user's back.
    if current_revision(engine) is None and _is_empty(engine):
        upgrade(engine)
    return Ledger(engine, make_sessionmaker(engine), make_sessionmaker(engine, write=True))


def _is_empty(engine: Engine) -> bool:
    from sqlalchemy import inspect

    return not inspect(engine).get_table_names()


def ledger() -> Ledger:
    """The ledger of this server; stops the page with a fix-it message when it is unusable."""
    url = ledger_url()
    try:
        handle = _ledger(url)
        check_schema(handle.engine)
    except SchemaOutOfDate as err:
        st.error(f"The ledger's schema is out of date: {err}. Stop the UI, run it, start again.")
        st.code("provenance db upgrade", language="bash")
        st.stop()
    except Exception as err:
        st.error(
            f"Cannot open the ledger at {safe_url(url)}: {type(err).__name__}. Check "
            "PROVENANCE_DB_URL (or the data directory) and that the database is running."
        )
        st.stop()
    return handle


def read(url: str, fn, *args: Any, **kwargs: Any) -> Any:
    """Call a repository read `fn(session, *args)` in a read transaction of the ledger at url
    (pages call `ledger()` first, which stops them with a message when it is unusable)."""
    with session_scope(_ledger(url).read) as session:
        return fn(session, *args, **kwargs)


# --- cached reads: the URL is part of every key ---------------------------------------------


@st.cache_data(ttl=READ_TTL_S, show_spinner=False)
def totals(url: str) -> listings.Totals:
    return read(url, listings.totals)


@st.cache_data(ttl=READ_TTL_S, show_spinner=False)
def corpora(url: str) -> pd.DataFrame:
    return read(url, listings.list_corpora)


@st.cache_data(ttl=JOBS_TTL_S, show_spinner=False)
def runs(url: str) -> pd.DataFrame:
    from provenance.run_list import with_recipes

    return with_recipes(read(url, listings.list_runs))


@st.cache_data(ttl=READ_TTL_S, show_spinner=False)
def recipe(url: str, run_key: str) -> Recipe | None:
    """The run's recipe, or None where this software cannot read it."""
    from provenance.run_list import readable_recipe

    return readable_recipe(read(url, catalog.get_run, run_key).recipe)


def committed_step(url: str, run_key: str) -> int:
    """The last step of the run whose values the ledger holds (0 before the first commit)."""
    listed = runs(url)
    return int(listed.loc[listed["run_key"] == run_key, "committed_step"].max() or 0)


@st.cache_data(ttl=JOBS_TTL_S, show_spinner=False)
def jobs_table(url: str) -> pd.DataFrame:
    return read(url, jobs.list_jobs)


@st.cache_data(ttl=READ_TTL_S, show_spinner=False)
def targets(url: str, run_key: str | None = None) -> pd.DataFrame:
    return read(url, listings.list_targets, run_key)


@st.cache_data(ttl=READ_TTL_S, show_spinner=False)
def target_text(url: str, run_key: str, target_key: str) -> tuple[str, str | None]:
    target = read(url, catalog.get_target, run_key, target_key)
    return target.text, target.prompt


@st.cache_data(ttl=READ_TTL_S, show_spinner=False)
def top(
    url: str, run_key: str, target_key: str, k: int, by: str, ascending: bool = False
) -> pd.DataFrame:
    return read(url, rankings.top_documents, run_key, target_key, k, by=by, ascending=ascending)


@st.cache_data(ttl=READ_TTL_S, show_spinner=False)
def ranked(url: str, run_key: str, target_key: str, k: int, by: str) -> pd.DataFrame:
    """The first k documents of a target in ranking `by` (`provenance.ranking`)."""
    return read(url, ranking.ranked_documents, run_key, target_key, k, by=by)


@st.cache_data(ttl=READ_TTL_S, show_spinner=False)
def rollup(url: str, run_key: str, target_key: str | None, field: str) -> pd.DataFrame:
    """By-field roll-up of one target, or of all user targets of the run (target_key None)."""
    return read(url, rankings.rollup, run_key, target_key, field)


@st.cache_data(ttl=READ_TTL_S, show_spinner=False)
def trajectories(url: str, run_key: str, target_key: str) -> pd.DataFrame:
    return read(url, rankings.trajectories, run_key, target_key)


@st.cache_data(ttl=READ_TTL_S, show_spinner=False)
def efficiency(url: str, run_key: str, target_key: str) -> rankings.EfficiencyCheck | None:
    return read(url, rankings.efficiency_check, run_key, target_key)


@st.cache_data(ttl=READ_TTL_S, show_spinner=False)
def efficiency_series(url: str, run_key: str, target_key: str) -> pd.DataFrame:
    """The per-step efficiency points of one target (`db.rankings.efficiency_series`)."""
    frame = read(url, rankings.efficiency_series, run_key)
    return frame[frame["target_key"] == target_key].reset_index(drop=True)


@st.cache_data(ttl=READ_TTL_S, show_spinner=False)
def document(url: str, run_key: str, doc_key: str) -> catalog.DocumentDetail:
    return read(url, catalog.document_detail, run_key, doc_key)


@st.cache_data(ttl=READ_TTL_S, show_spinner=False)
def contributions(url: str, run_key: str, doc_key: str) -> pd.DataFrame:
    frame = read(url, rankings.document_contributions, run_key, doc_key)
    return frame[frame["origin"] != "reference"].reset_index(drop=True)


@st.cache_data(ttl=READ_TTL_S, show_spinner=False)
def negatives(url: str, run_key: str, by: str) -> pd.DataFrame:
    """Negative (document, user target) pairs of a run, most negative first."""
    frame = read(url, rankings.negative_documents, run_key, by=by)
    users = set(read(url, listings.list_targets, run_key)["target_key"])
    return frame[frame["target_key"].isin(users)].reset_index(drop=True)


def clear() -> None:
    """Forget cached reads (after this process wrote to the ledger)."""
    for fn in (totals, corpora, runs, jobs_table, targets, open_jobs):
        fn.clear()


# --- writes ------------------------------------------------------------------------------------


def enqueue(payload: JobPayload) -> int:
    """Check and queue a typed job for `provenance worker`; returns its id. PayloadError (a
    ValueError) says what to fix. The UI never runs the job itself."""
    job_id = provenance_jobs.enqueue(ledger().write, payload)
    clear()
    return job_id


def pending_targets(out: Path) -> tuple[tuple[TargetText, Path], ...]:
    """The targets waiting in the uploads folder (`pending.load_pending`), parsed once per
    set of files: upload files are named by their content and never change, so the folder's
    listing (name, size, mtime) is the cache key and a render only lists the folder."""
    folder = pending.uploads_dir(out)
    stats = [(path.name, path.stat()) for path in folder.glob("*.jsonl")]
    listing = tuple(sorted((name, s.st_size, s.st_mtime_ns) for name, s in stats))
    return _pending_targets(str(Path(out).resolve()), listing)


@st.cache_data(show_spinner=False, max_entries=4)
def parsed_upload(name: str, content: bytes) -> list[TargetText]:
    """`uploads.parse_upload`, once per file content (the page reruns at every click while the
    file stays in the uploader); UploadError is raised again at each call, never cached."""
    from provenance.uploads import parse_upload

    return parse_upload(name, content)


@st.cache_resource(show_spinner=False, max_entries=4)
def _pending_targets(out: str, listing: tuple) -> tuple[tuple[TargetText, Path], ...]:
    # cache_resource: shared and not copied per call (cache_data would unpickle every target
    # at every render); the tuple is never changed by its readers.
    return tuple(pending.load_pending(Path(out)))


@st.cache_data(ttl=JOBS_TTL_S, show_spinner=False)
def open_jobs(url: str, kind: str) -> pd.DataFrame:
    return read(url, jobs.open_jobs, kind)


# --- evidence and reports (provenance/reports/, db/evidence.py) ---------------------------------
# provenance.reports is imported inside the functions: it pulls in the attribution engine (torch),
# seconds that a page which shows no evidence should not pay.


@st.cache_data(ttl=READ_TTL_S, show_spinner=False)
def evidence(url: str, run_key: str, target_key: str) -> pd.DataFrame:
    """The stored evidence of a target under the current evidence parameters
    (`db.evidence.EVIDENCE_COLUMNS`); pairs not computed yet are absent."""
    from db.evidence import evidence_frame
    from provenance.evidence import evidence_version

    return read(url, evidence_frame, run_key, target_key, evidence_version())


def compute_evidence(run_key: str, target_key: str, doc_keys: list[str], progress=None) -> int:
    """Compute and store the missing evidence of these documents, in their order (loads the
    embedding model, indexes the corpus for BM25: seconds); returns how many pairs the ledger
    now has. `progress(done, total)` hears of each batch of documents computed."""
    from provenance.evidence import fill_evidence

    stored = fill_evidence(ledger().write, run_key, target_key, doc_keys, progress=progress)
    evidence.clear()
    return stored


def run_dir(run_key: str) -> Path | None:
    """The run's directory under the data directory, when it is there (the report's manifest
    then hashes its files); None reports from the ledger alone, as `provenance report` does."""
    path = data_dir() / "runs" / run_key
    return path if (path / "recipe.json").is_file() else None


def report(run_key: str, target_key: str, fmt: str) -> tuple[bytes, str, int]:
    """(file bytes, SHA-256 of the JSON report, the run's committed step it shows) of one
    report, assembled as `provenance report` assembles it (`prepare_report`: evidence first,
    then one short write transaction) and rendered after it, so that a PDF's charts (seconds)
    never hold SQLite's write lock. Not cached: called on a button press only."""
    from provenance.reports import prepare_report, render

    document = prepare_report(ledger().write, run_key, target_key, run_dir=run_dir(run_key))
    evidence.clear()
    return render(document, fmt), document["sha256"], document["report"]["run"]["committed_step"]


# --- documents: search and the "my document" view (db/search.py, db/catalog.py, db/values.py) ---


@st.cache_data(ttl=READ_TTL_S, show_spinner=False, max_entries=64)
def search(url: str, query: str, field: str, limit: int, offset: int) -> SearchResult:
    """One page of documents matching `query` (`db.search.search_documents`); BadQuery (a
    ValueError, never cached) for an empty or over-long query."""
    return read(url, search_documents, query, field=field, limit=limit, offset=offset)


@st.cache_data(ttl=READ_TTL_S, show_spinner=False)
def find_document(url: str, corpus_id: int, doc_key: str) -> catalog.DocumentDetail | None:
    return read(url, catalog.find_document, corpus_id, doc_key)


@st.cache_data(ttl=READ_TTL_S, show_spinner=False)
def corpus_runs(url: str, corpus_id: int) -> list[str]:
    """The runs over this corpus, newest first."""
    return read(url, catalog.corpus_runs, corpus_id)


@st.cache_data(ttl=READ_TTL_S, show_spinner=False)
def run_corpus_id(url: str, run_key: str) -> int | None:
    info = read(url, catalog.run_corpus, run_key)
    return None if info is None else info.id


@st.cache_data(ttl=READ_TTL_S, show_spinner=False)
def visits(url: str, run_key: str, doc_key: str) -> DocumentVisits | None:
    """The steps of the run that trained on the document (`db.values.document_visits`)."""
    return read(url, document_visits, run_key, doc_key)


@st.cache_data(ttl=READ_TTL_S, show_spinner=False)
def links(url: str, run_key: str, doc_keys: tuple[str, ...]) -> dict[str, str | None]:
    """doc_key -> the document's URL as the corpus gives it (None without one)."""
    return {k: d.url for k, d in read(url, catalog.documents, run_key, doc_keys).items()}


@st.cache_data(ttl=READ_TTL_S, show_spinner=False)
def coverage(url: str, run_key: str) -> tuple[int | None, int | None]:
    """(documents the run trained on so far, documents in its corpus); None where unknown."""
    corpus = read(url, catalog.run_corpus, run_key)
    return read(url, trained_count, run_key), None if corpus is None else corpus.n_documents
