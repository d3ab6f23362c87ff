"""Shared pieces of the fidelity benchmarks (issue 7): the SOTU corpus and a seeded sample of it,
rank statistics, and plain-text tables. Nothing here trains or scores.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from provenance.sotu_corpus import build_sotu_corpus

DEFAULT_OUT = Path("out/fidelity")  # under the git-ignored /out/: corpora and runs


def pin_threads(threads: int) -> None:
    """One fixed thread count: timings and bit-exact replays depend on it."""
    torch.set_num_threads(threads)


def sotu_records(out: Path) -> list[dict]:
    """Every record of the SOTU demo corpus (`provenance corpus sotu`), built once under `out`."""
    path = Path(out) / "sotu.jsonl"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        build_sotu_corpus(path)
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def sample_records(
    records: Sequence[dict], n: int, seed: int, keep: Sequence[str] = ()
) -> list[dict]:
    """`n` records: those whose ids are in `keep` plus a seeded sample of the rest, in corpus
    order (so the same arguments give the same corpus file and hash)."""
    keep_set = set(keep)
    missing = keep_set - {r["id"] for r in records}
    if missing:
        raise ValueError(f"ids {sorted(missing)} are not in the SOTU corpus")
    others = [i for i, r in enumerate(records) if r["id"] not in keep_set]
    if n < len(keep_set) or n - len(keep_set) > len(others):
        raise ValueError(f"cannot sample {n} records keeping {len(keep_set)} of {len(records)}")
    generator = np.random.default_rng(seed)
    chosen = set(generator.choice(others, size=n - len(keep_set), replace=False).tolist())
    return [r for i, r in enumerate(records) if i in chosen or r["id"] in keep_set]


def write_records(records: Sequence[dict], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n")
    return path


def rank_of(scores: np.ndarray, index: int) -> int:
    """1-based rank of scores[index] in descending order; ties count against it (pessimistic)."""
    return int((scores >= scores[index]).sum())


def ranks(values: np.ndarray) -> np.ndarray:
    """Average ranks (ties share the mean rank), as scipy.stats.rankdata."""
    order = np.argsort(values, kind="stable")
    out = np.empty(len(values), dtype=np.float64)
    out[order] = np.arange(1, len(values) + 1)
    for value in np.unique(values):  # average over ties
        tied = values == value
        if tied.sum() > 1:
            out[tied] = out[tied].mean()
    return out


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    return pearson(ranks(np.asarray(a)), ranks(np.asarray(b)))


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    a, b = a - a.mean(), b - b.mean()
    denominator = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / denominator) if denominator > 0 else float("nan")


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table (pastes into docs/fidelity.md as printed)."""
    cells = [[_cell(x) for x in row] for row in rows]
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(row) + " |" for row in cells]
    return "\n".join(lines)


def _cell(x: object) -> str:
    if isinstance(x, float):
        if x != x:
            return "n/a"
        return f"{x:.3g}" if abs(x) < 1e-2 or abs(x) >= 1e4 else f"{x:.3f}"
    return str(x)


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)
