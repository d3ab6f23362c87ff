"""The file name of a report, shared by the UI's downloads and the demo's exports. Torch-free
(outside provenance/reports, whose package imports the evidence engine), so a page can name a
file without loading a model."""

from __future__ import annotations

import re

_UNSAFE = re.compile(r"[^A-Za-z0-9.-]+")


def report_file_name(run_key: str, target_key: str, fmt: str) -> str:
    """A name that says what the file holds, e.g. provenance-report_<run>_<target>.pdf, from
    the ids reduced to safe characters ('_' only separates the parts)."""
    run, target = (_UNSAFE.sub("-", key)[:80] for key in (run_key, target_key))
    return f"provenance-report_{run}_{target}.{fmt}"
