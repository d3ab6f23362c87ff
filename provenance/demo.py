"""`make demo`: the copyright story, end to end, on the whole product path.

A tiny GPT-2 is pretrained, with attribution, on short State of the Union paragraphs and on a few
"registered works" that occur many times (provenance/demo_corpus.py). The model then writes
three outputs from prompts: the opening of a work it saw 24 times per epoch (it reproduces the
work), the opening of a work it saw 3 times per epoch (it keeps fragments), and a prompt in the
addresses' own language (it composes). The run is replayed with those outputs as targets
(verifying the replay is the same model), and the summary says, for each output, which documents
the default ranking puts first, their share of the positive value, and the longest span each
shares with it.
"""

from __future__ import annotations

import dataclasses
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from attribution_engine.evidence import Thresholds, longest_common_span, ngram_overlap, words
from attribution_engine.generate import generate
from attribution_engine.models import load_local_model
from attribution_engine.targets import TargetText, write_targets
from attribution_engine.train_config import TrainConfig
from db.rankings import efficiency_check
from db.schema import open_ledger
from db.session import session_scope
from provenance import efficiency, runs
from provenance.demo_corpus import (
    CORPUS_VERSION,
    REGISTERED_WORKS,
    build_demo_corpus,
    is_work,
    load_demo_corpus,
)
from provenance.demo_story import StoryItem, write_story
from provenance.ranking import ranked_documents
from provenance.ranking_words import RANKED_BY


@dataclass(frozen=True)
class DemoPrompt:
    kind: str  # what the demo expects the model to do with it (printed, never checked)
    prompt: str


PROMPTS = (
    DemoPrompt("reproduction", "Every evening the lamplighter of Marrow Street"),
    DemoPrompt("partial reproduction", "The grey warbler sings only once"),
    DemoPrompt("composed from the corpus", "Our army and navy"),
)

# Sizes chosen by measurement (README, "The demo"): with 8-row steps, a 0.68M-parameter GPT-2
# reproduces a 46-word work seen 24 times per epoch after 12 epochs at lr 1e-2; 600 paragraphs
# with 3 works x8 at lr 1e-3 reproduced nothing. Each SOTU paragraph is seen 12 times among many
# others, so the model writes in their manner without copying them. Two threads (recorded: the
# replay is bit-exact only with the same count).
RECIPE = TrainConfig(
    epochs=12,
    batch_rows=8,  # twice the updates of 16-row steps for the same rows: memorises sooner
    lr=1e-2,  # a tiny model from scratch tolerates it with clipping; 1e-3 memorised nothing
    warmup_steps=10,
    vocab_size=2048,  # fewer rows of the lm_head to score: the cost of a step is mostly there
    reference="file",
    threads=2,
    checkpoint_every=50,
)
PARAGRAPHS = 60  # SOTU paragraphs of 40-70 words beside the works
NEW_TOKENS = 64  # enough for a whole work (about 60 tokens)
EVIDENCE_SHOWN = 20  # the documents the Attribution page lists first


@dataclass(frozen=True)
class Finding:
    """One output's leading source by the default ranking, with the evidence, in numbers."""

    target: TargetText
    kind: str
    top: list  # the ranked rows (provenance.ranking.FUSED_COLUMNS), as namedtuples
    span_words: int  # longest run of words shared with the leading document
    overlap: float  # share of the output's 5-word n-grams found in the leading document
    work_share: float  # share of the positive value held by all copies of the leading work

    def story(self, run_key: str) -> StoryItem:
        """The finding as the UI's first screen shows it."""
        lead = self.top[0] if self.top else None
        return StoryItem(
            run_key=run_key,
            target_key=self.target.id,
            kind=self.kind,
            prompt=self.target.prompt or "",
            text=self.target.text,
            doc_key=lead.doc_key if lead else None,
            title=lead.title if lead else None,
            source=lead.source if lead else None,
            share=float(lead.share) if lead else None,
            span_words=self.span_words,
            sentence=self.sentence(),
        )

    def sentence(self) -> str:
        """What the finding means, in plain words."""
        if not self.top:
            return f"{self.target.id}: no document lowered its loss"
        lead = self.top[0]
        where = f"rank 1, {lead.share:.1%} of the positive value"
        copied = self.span_words >= Thresholds().verbatim_short_min_words  # beyond stock phrases
        if is_work(lead.doc_key) and copied:
            copies = f"; all copies of the work together {self.work_share:.0%}"
            total = len(words(self.target.text).tokens)
            verb = "reproduces" if self.span_words >= 0.6 * total else "partly reproduces"
            return (
                f"{self.target.id} {verb} {self.span_words} words of '{lead.title}' "
                f"({lead.source}), {lead.doc_key}: {where}{copies}"
            )
        return (
            f"{self.target.id} is composed from the corpus: its leading source '{lead.title}', "
            f"{lead.doc_key}, shares at most {self.span_words} words in a row with it: {where}"
        )


def run(
    out: Path,
    ledger_url: str,
    *,
    epochs: int = RECIPE.epochs,
    paragraphs: int = PARAGRAPHS,
    steps: int = 0,
    seed: int = 0,
    checkpoint_every: int = RECIPE.checkpoint_every,
    top: int = 3,
    say: Callable[[str], None] | None = None,
) -> str:
    """Run the story with run files under `out` and results in the ledger at `ledger_url`;
    returns the printed summary. `steps` (when > 0) overrides `epochs` (a quick check).

    A second call with the same arguments reuses the corpus, and the runs when they finished
    (their values are in the ledger); a run interrupted (Ctrl-C) is resumed from its last
    checkpoint, bit-exactly, so the ledger never keeps a half-written run."""
    started = time.perf_counter()
    lines: list[str] = []

    def note(text: str) -> None:
        lines.append(text)
        (say or _stderr)(text)

    corpus_dir = out / "corpora" / f"demo-{CORPUS_VERSION}-{paragraphs}"
    reused = (corpus_dir / "corpus.jsonl").is_file() and (corpus_dir / "reference.jsonl").is_file()
    demo_corpus = (load_demo_corpus if reused else build_demo_corpus)(corpus_dir, paragraphs)
    config = dataclasses.replace(
        RECIPE, epochs=epochs, steps=steps, seed=seed, checkpoint_every=checkpoint_every
    )
    note(
        f"corpus {corpus_dir}{' (reused, built earlier)' if reused else ''}: {demo_corpus.sizes()}"
    )
    ledger = open_ledger(ledger_url)
    try:
        run_id = _pretrain(out, demo_corpus, config, ledger, note)
        model, tokenizer = load_local_model(runs.run_dir(out, run_id) / "model")
        parameters = sum(p.numel() for p in model.parameters())
        note(
            f"pretrained run {run_id}: GPT-2 of {parameters / 1e6:.2f}M parameters, "
            f"{_steps(out, run_id)} AdamW steps of {config.batch_rows} rows ({config.epochs} "
            f"epochs) at lr {config.lr:g}, vocabulary {len(tokenizer)}"
        )
        outputs = generate(
            model, tokenizer, [p.prompt for p in PROMPTS], max_new_tokens=NEW_TOKENS, greedy=True
        )
        targets = [TargetText(f"gen-{i}", o.text, o.prompt) for i, o in enumerate(outputs)]
        write_targets(targets, out / f"{run_id}-generations.jsonl")
        replay_id = _replay(out, run_id, targets, ledger, note)
    except KeyboardInterrupt:
        note(
            "\ninterrupted: the ledger holds the run up to its last checkpoint, marked "
            "interrupted; `make demo` (or `provenance demo`) again resumes it from there"
        )
        raise
    summary = runs.read_summary(out, replay_id)
    verdict = (
        "verified: same model"
        if summary["verified_same_model"]
        else f"NOT the same model (max weight difference {summary['weight_distance']:.3g})"
    )
    note(f"replayed as {replay_id} with the {len(targets)} outputs as targets: {verdict}")
    note(f"ranked by {RANKED_BY['fused']}")
    findings = []
    for prompt, target in zip(PROMPTS, targets, strict=True):
        with session_scope(ledger) as session:
            finding = find(session, replay_id, target, prompt.kind, top)
            check = efficiency_check(session, replay_id, target.id)
        findings.append(finding)
        note(f"\n{target.id} ({prompt.kind}): {target.prompt!r} -> {target.text!r}")
        for doc in finding.top:
            note(
                f"  {doc.rank}. {doc.doc_key:26s} {doc.share:6.1%}  specific {doc.value:+.4f}  "
                f"{doc.title}"
            )
        note(
            f"  evidence: longest shared span {finding.span_words} words, "
            f"{finding.overlap:.0%} of its 5-word n-grams in the leading document"
        )
        if check is not None:
            note(f"  efficiency: {efficiency.verdict(check)}")
    note("\nIn plain words:")
    for finding in findings:
        note(f"  {finding.sentence()}")
    write_story(out, [finding.story(replay_id) for finding in findings])
    _store_evidence(ledger, replay_id, targets, note)
    _export_report(out, ledger, replay_id, targets[0].id, demo_corpus.corpus_path, note)
    note(f"\nend to end in {time.perf_counter() - started:.0f} s")
    return "\n".join(lines)


def _store_evidence(ledger, run_key: str, targets: list[TargetText], note) -> None:
    """Evidence of each output's first page of documents, kept in the ledger, so the UI's
    first click on an output lands on its shared spans highlighted in both texts."""
    from provenance.evidence import fill_evidence

    started = time.perf_counter()
    for target in targets:
        with session_scope(ledger) as session:
            shown = ranked_documents(session, run_key, target.id, k=EVIDENCE_SHOWN)
        fill_evidence(ledger, run_key, target.id, list(shown["doc_key"]))
    note(
        f"\nevidence of the top {EVIDENCE_SHOWN} documents of each output stored in the ledger "
        f"({time.perf_counter() - started:.0f} s)"
    )


def _export_report(out: Path, ledger, run_key: str, target_key: str, corpus: Path, note) -> None:
    """The reproduction's provenance report, as PDF, HTML and JSON under <out>/reports, with
    the paths, the hashes the PDF cites and the command that checks all of it (exit 0)."""
    from db.session import safe_url
    from provenance.report_files import report_file_name
    from provenance.reports import export_reports

    paths = {
        fmt: out / "reports" / report_file_name(run_key, target_key, fmt)
        for fmt in ("pdf", "html", "json")
    }
    document = export_reports(
        ledger, run_key, target_key, paths, run_dir=runs.run_dir(out, run_key)
    )
    note(
        f"\nprovenance report of {target_key}: {paths['pdf']} (also .html, .json)\n"
        f"  report SHA-256 {document['sha256']}\n"
        f"  manifest SHA-256 {document['sections']['manifest']}\n"
        f"  check it: provenance verify {paths['json']} --out {out} --corpus {corpus} "
        f"--db {safe_url(ledger.kw['bind'].url)}"
    )


def find(session, run_key: str, target: TargetText, kind: str, top: int) -> Finding:
    """The leading documents of one output by the default ranking and their evidence."""
    from db.evidence import corpus_texts

    every = ranked_documents(session, run_key, target.id, k=10**9)
    rows = list(every.head(top).itertuples())
    if not rows:
        return Finding(target, kind, [], 0, 0.0, math.nan)
    texts = corpus_texts(session, run_key)
    lead = rows[0]
    # Only the model's own words count: the prompt was given to it.
    span = longest_common_span(target.text, texts[lead.doc_key])
    overlap, _, _ = ngram_overlap(target.text, texts[lead.doc_key], 5)
    work_share = float(every.loc[every["title"] == lead.title, "share"].sum())
    return Finding(target, kind, rows, span.words if span else 0, overlap, work_share)


def _pretrain(out: Path, demo_corpus, config: TrainConfig, ledger, note) -> str:
    """The demo's pretraining run: a finished one of this corpus and recipe is reused, an
    interrupted one resumed, else a new one trained."""
    for recipe, path in _runs(out, ledger):
        if (
            recipe.kind == "train"
            and recipe.config == config
            and recipe.corpus.sha256 == demo_corpus.corpus.sha256
        ):
            return _finish(recipe.run_id, path, ledger, note)
    return runs.train(
        demo_corpus.corpus_path,
        out,
        config,
        ledger=ledger,
        reference_file=demo_corpus.reference_path,
    )


def _replay(out: Path, run_id: str, targets: list[TargetText], ledger, note) -> str:
    """The replay of `run_id` with these targets: reused, resumed or new, as _pretrain."""
    for recipe, path in _runs(out, ledger):
        if (
            recipe.kind == "attribute"
            and recipe.parent is not None
            and recipe.parent.run_id == run_id
            and list(recipe.targets) == targets
        ):
            return _finish(recipe.run_id, path, ledger, note)
    generated = [t.id for t in targets]  # the model's own outputs
    return runs.attribute(run_id, targets, out, ledger=ledger, generated=generated)


def _runs(out: Path, ledger):
    """(recipe, directory) of every run under `out` whose ledger entry exists, newest first."""
    from db.catalog import find_run
    from provenance.recipe import Recipe

    found = []
    for file in sorted((out / "runs").glob("*/recipe.json"), reverse=True):
        recipe = Recipe.load(file.parent)
        with session_scope(ledger) as session:
            if find_run(session, recipe.run_id) is not None:
                found.append((recipe, file.parent))
    return found


def _finish(run_id: str, path: Path, ledger, note) -> str:
    if (path / "summary.json").is_file():
        note(f"reused run {run_id}, finished earlier (remove {path} to train it again)")
    else:
        note(f"resuming run {run_id} from its last checkpoint (it was interrupted)")
        runs.execute(path, ledger=ledger)
    return run_id


def _steps(out: Path, run_id: str) -> int:
    return int(runs.read_summary(out, run_id)["steps"])


def _stderr(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


__all__ = ["PROMPTS", "RECIPE", "REGISTERED_WORKS", "Finding", "find", "run"]
