"""A tiny attributed run in a ledger, for the report tests (conftest.py makes the fixtures).

The corpus carries markup in user fields (title, source, text, target) to check escaping, and
the target copies one document, so the top contributor is a verbatim source.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from synthetic import write_corpus

from db.session import make_engine, make_sessionmaker
from provenance.cli import main

INJECTED = '<script>alert("x")</script><img src=x onerror=alert(1)>'


@dataclass(frozen=True)
class Ledgered:
    tmp: Path
    corpus: Path
    out: Path
    url: str
    run_key: str
    run_dir: Path

    def factory(self, write: bool = False):
        return make_sessionmaker(make_engine(self.url), write=write)

    def cli(self, *args: str) -> int:
        """Run the CLI in-process; its exit status (0 when it returns)."""
        try:
            main(list(args))
        except SystemExit as exit:
            return int(exit.code or 0)
        return 0

    def report(self, fmt: str, name: str | None = None) -> Path:
        path = self.tmp / (name or f"report.{fmt}")
        status = self.cli(
            "report", "--run", self.run_key, "--target", "copy", "--format", fmt,
            "-o", str(path), "--out", str(self.out), "--db", self.url,
        )  # fmt: skip
        assert status == 0
        return path


def train_run(tmp: Path, url: str) -> Ledgered:
    """A 20-step tiny run with one target copying doc-004, committed to the ledger at `url`."""
    corpus = tmp / "corpus.jsonl"
    docs = write_corpus(corpus, n_docs=40)
    docs[4]["text"] += " =SUM(A1) " + INJECTED
    docs[4].update(title=INJECTED, source="=HYPERLINK(1) & <b>press</b>", license="CC-BY-4.0")
    corpus.write_text("".join(json.dumps(d) + "\n" for d in docs))
    targets = tmp / "targets.jsonl"
    targets.write_text(json.dumps({"id": "copy", "text": docs[4]["text"]}) + "\n")
    out = tmp / "out"
    args = [
        "train", "--corpus", str(corpus), "--out", str(out), "--steps", "20",
        "--batch-rows", "8", "--lr", "3e-3", "--checkpoint-every", "5", "--quiet",
        "--targets", str(targets), "--db", url,
    ]  # fmt: skip
    main(args)
    (run_dir,) = (out / "runs").iterdir()
    return Ledgered(tmp, corpus, out, url, run_dir.name, run_dir)
