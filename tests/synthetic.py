"""Synthetic data for tests (no data files): sentences for tokenizers, corpus files of distinct
documents for runs, and the command line run as a user runs it."""

import json
import os
import random
import subprocess
import sys
from pathlib import Path

SUBJECTS = ["The keeper", "A baker", "The river", "Our ferry", "The old clock", "Each bee"]
VERBS = ["watched", "carried", "measured", "followed", "remembered", "crossed"]
OBJECTS = ["the northern cape", "warm bread", "the valley stones", "the harbour lights"]
ENDINGS = ["at night.", "before dawn.", "every spring.", "without a word.", "for years."]


def sentences(n: int = 300, seed: int = 0) -> list[str]:
    """`n` short English sentences built from fixed word lists (no data files needed)."""
    rng = random.Random(seed)
    return [
        " ".join(rng.choice(words) for words in (SUBJECTS, VERBS, OBJECTS, ENDINGS))
        for _ in range(n)
    ]


WORDS = [
    "river",
    "harbour",
    "engine",
    "treaty",
    "wheat",
    "railway",
    "lantern",
    "copper",
    "senate",
    "frontier",
    "tariff",
    "canal",
    "mill",
    "cotton",
    "navy",
    "budget",
    "school",
    "clerk",
    "valley",
    "winter",
    "bridge",
    "ledger",
    "market",
    "village",
    "coast",
    "garden",
    "letter",
    "council",
    "doctor",
    "soldier",
    "farmer",
    "printer",
    "silver",
    "timber",
    "quarry",
    "orchard",
    "mayor",
]


def write_corpus(path: Path, n_docs: int = 60, seed: int = 0) -> list[dict]:
    """Distinct synthetic documents: each a shuffled sentence of 30 words with its own marker."""
    rng = random.Random(seed)
    docs = []
    for i in range(n_docs):
        words = [rng.choice(WORDS) for _ in range(30)]
        docs.append(
            {
                "id": f"doc-{i:03d}",
                "text": " ".join(words) + f" number {i}.",
                "source": f"author-{i % 7}",
            }
        )
    path.write_text("".join(json.dumps(d) + "\n" for d in docs))
    return docs


def run_cli(*args: str, timeout: float | None = None) -> str:
    """Run the CLI in a subprocess (as a user would) and return its last stdout line."""
    done = subprocess.run(
        [sys.executable, "-m", "provenance.cli", *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        timeout=timeout,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip().splitlines()[-1]


def train_args(corpus_path: Path, out: Path, *extra: str) -> list[str]:
    return [
        "train",
        "--corpus",
        str(corpus_path),
        "--out",
        str(out),
        "--steps",
        "30",
        "--batch-rows",
        "8",
        "--lr",
        "3e-3",
        "--checkpoint-every",
        "5",
        "--quiet",
        *extra,
    ]
