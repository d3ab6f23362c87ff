"""Fast versions of the benchmarks: benchmarks/ is imported from the repository root, which
pytest puts on the import path (`pythonpath` in pyproject.toml)."""

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def sotu_out(tmp_path_factory) -> Path:
    """A directory holding the SOTU corpus file, built once per session (about 4 s)."""
    from benchmarks.fidelity_common import sotu_records

    out = tmp_path_factory.mktemp("fidelity")
    sotu_records(out)
    return out
