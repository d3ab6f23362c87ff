"""The provenance report download: one "Prepare" button per format, then the file, named for
what it holds (provenance-report_<run>_<target>.<ext>).

A report is rendered only when its button is pressed (its evidence may be computed first:
seconds), kept in the session state under (run, target, format) and offered with
`st.download_button` on every rerun after that, with the SHA-256 of its JSON report, until the
run commits newer values: a report of an older step is then withdrawn, with a word why.
"""

from __future__ import annotations

import streamlit as st

from app import data
from provenance.report_files import report_file_name as file_name

FORMATS = {  # format -> (what the file is, MIME type)
    "pdf": ("PDF report", "application/pdf"),
    "html": ("HTML report", "text/html"),
    "json": ("JSON report (verifiable)", "application/json"),
    "csv": ("CSV of the shown documents", "text/csv"),
}

VERIFY_WORDS = (
    "`provenance verify REPORT.json --db URL [--out DATA_DIR] [--corpus FILE]` recomputes every "
    "hash of a JSON (or HTML) report, compares every number with the ledger and names any field "
    "that changed; it exits 0 only when everything was checked against the ledger (3: only "
    "self-consistent, or some check could not be done; 1: a check failed). A PDF or CSV prints "
    "the SHA-256 of its JSON report, so verify that one."
)


def state_key(prefix: str, run_key: str, target_key: str, fmt: str) -> str:
    """Where a prepared report lives in st.session_state: (bytes, sha256, committed step)."""
    return f"{prefix}_report:{run_key}:{target_key}:{fmt}"


def report_downloads(prefix: str, url: str, run_key: str, target_key: str) -> None:
    """Prepare/download buttons for the report of (run, target), one column per format."""
    latest = data.committed_step(url, run_key)
    st.caption(
        "The report of this output: a one-page summary (the leading sources, their evidence, "
        "confidence and limits), the method, the top and harmful documents with their "
        "evidence, rights holders, the efficiency check and a manifest of hashes. " + VERIFY_WORDS
    )
    for column, (fmt, (name, mime)) in zip(st.columns(len(FORMATS)), FORMATS.items(), strict=True):
        key = state_key(prefix, run_key, target_key, fmt)
        with column:
            if st.button(f"Prepare {name}", key=f"{prefix}_prepare_{fmt}"):
                with st.spinner(f"Preparing the {name}..."):
                    try:
                        st.session_state[key] = data.report(run_key, target_key, fmt)
                    except ValueError as err:  # e.g. a target without values yet
                        st.error(f"The {name} could not be prepared:")
                        st.code(str(err), language=None, wrap_lines=True)  # may quote ids
            prepared = st.session_state.get(key)
            if prepared is None:
                continue
            content, digest, shown = prepared
            if shown < latest:
                st.caption(
                    f"The {name} prepared earlier shows step {shown}; the run has "
                    f"committed values up to step {latest} since. Prepare it again."
                )
            else:
                filename = file_name(run_key, target_key, fmt)
                st.download_button(
                    f"Download {name}",
                    content,
                    file_name=filename,
                    help=f"Saves {filename}",
                    mime=mime,
                    key=f"{prefix}_download_{fmt}",
                )
                st.caption(f"SHA-256 of the JSON report: `{digest}`")
