"""The layer rule app -> provenance -> {attribution_engine, db} (DESIGN 5) is enforced: the
import-linter contracts of pyproject.toml pass on the tree, and fail on a copy of it into which
one upward import has been added."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("app", "provenance", "attribution_engine", "db")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(tree: Path) -> subprocess.CompletedProcess:
    # lint-imports puts the working directory first on sys.path, so the copy is what it reads.
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(tree / "pyproject.toml"), "--no-cache"],
        cwd=tree,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("*.md"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_tree_keeps_every_layer_contract(tree: Path) -> None:
    done = _lint(tree)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 kept, 0 broken" in done.stdout


@pytest.mark.parametrize(
    ("module", "upward"),
    [
        ("db/session.py", "import provenance.recipe"),  # the ledger reaching up
        ("attribution_engine/step.py", "import db.models"),  # engine -> ledger
        ("attribution_engine/corpus.py", "import app.data"),  # engine -> UI
        ("provenance/recipe.py", "import app.ui"),  # application layer -> UI
    ],
)
def test_an_added_upward_import_breaks_a_contract(tree: Path, module: str, upward: str) -> None:
    path = tree / module
    path.write_text(path.read_text() + f"\n{upward}  # added by the test\n")
    done = _lint(tree)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "BROKEN" in done.stdout
    assert upward.split()[1].split(".")[0] in done.stdout  # names the offending package
