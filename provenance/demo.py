"""`make demo`: the whole product path on the State of the Union corpus, end to end.

Ingest the SOTU paragraphs, pretrain a tiny GPT-2 with attribution on every paragraph (the
reference: four of them, still trained on), sample outputs from it, replay the run with those
outputs as targets (verifying the replay is the same model), and print each output's top
contributors by specific contribution and its efficiency check in words.
"""

import dataclasses
import sys
import time
from pathlib import Path

from attribution_engine.generate import generate
from attribution_engine.models import load_local_model
from attribution_engine.targets import TargetText, write_targets
from attribution_engine.train_config import TrainConfig
from db.rankings import efficiency_check
from db.schema import open_ledger
from db.session import session_scope
from provenance import efficiency, runs
from provenance.ranking import RANKED_BY, ranked_documents
from provenance.sotu_corpus import build_sotu_corpus

PROMPTS = ("The state of the Union", "Our army and navy", "The revenue of the Government")


# Sized to finish end to end within 5 minutes on 2 cores: 300 steps of 16 rows (a sixth of the
# corpus), four reference paragraphs (kept in training), two threads (recorded, so the replay
# is exact).
RECIPE = TrainConfig(
    steps=300, lr=3e-4, warmup_steps=30, reference_documents=4, threads=2, checkpoint_every=100
)


def run(out: Path, ledger_url: str, steps: int = RECIPE.steps, seed: int = 0, top: int = 5) -> str:
    """Run the pipeline with run files under `out` and results in the ledger at `ledger_url`;
    returns the printed report."""
    started = time.perf_counter()
    lines: list[str] = []

    def say(text: str) -> None:
        lines.append(text)
        print(text, file=sys.stderr, flush=True)

    corpus_path = out / "corpora" / "sotu.jsonl"
    if not corpus_path.exists():
        corpus_path.parent.mkdir(parents=True, exist_ok=True)
        build_sotu_corpus(corpus_path)
    config = dataclasses.replace(RECIPE, steps=steps, seed=seed)
    ledger = open_ledger(ledger_url)
    run_id = runs.train(corpus_path, out, config, ledger=ledger)
    say(f"pretrained run {run_id}")
    model, tokenizer = load_local_model(runs.run_dir(out, run_id) / "model")
    outputs = generate(model, tokenizer, list(PROMPTS), max_new_tokens=32, seed=seed)
    targets = [
        TargetText(f"gen-{i}", o.text, o.prompt) for i, o in enumerate(outputs) if o.text.strip()
    ]
    targets_path = out / f"{run_id}-generations.jsonl"
    write_targets(targets, targets_path)
    replay_id = runs.attribute(run_id, targets, out, ledger=ledger)
    summary = runs.read_summary(out, replay_id)
    verdict = (
        "verified: same model"
        if summary["verified_same_model"]
        else (f"NOT the same model (max weight difference {summary['weight_distance']:.3g})")
    )
    say(f"replayed as {replay_id} with {len(targets)} generated targets: {verdict}")
    for target in targets:
        say(f"\n{target.id}: {target.prompt!r} -> {target.text!r}")
        with session_scope(ledger) as session:
            ranked = ranked_documents(session, replay_id, target.id, k=top)
            check = efficiency_check(session, replay_id, target.id)
        say(f"  ranked by {RANKED_BY['fused']}:")
        for doc in ranked.itertuples():
            say(
                f"  {doc.rank}. {doc.doc_key:28s} specific {doc.value:+.5f}  raw "
                f"{doc.raw_value:+.5f}  {doc.share:5.1%}  value rank {doc.rank_by_value}, words "
                f"rank {doc.rank_by_words}  {doc.source}"
            )
        if check is not None:
            say(f"  efficiency: {efficiency.verdict(check)}")
    say(f"\nend to end in {time.perf_counter() - started:.0f} s")
    return "\n".join(lines)
