"""The JSON report: the same ledger exported twice is byte-identical, verify passes on an
untouched report and fails, naming the field, after any single-byte change to the report, the
corpus or a run file (checkpoints, final model); evidence is computed once and cached."""

from __future__ import annotations

import json
import random

import pytest
from sqlalchemy import func, select

from attribution_engine.train_config import TrainConfig
from db.models import EmbeddingRow, EvidenceRow, Report
from provenance.recipe import Recipe
from provenance.reports import build, canonical, failed, sha256, skipped, verify


@pytest.fixture(scope="module")
def exported(ledgered):
    first = ledgered.report("json", "first.json")
    with ledgered.factory()() as session:
        embedded = session.execute(select(func.count()).select_from(EmbeddingRow)).scalar_one()
    second = ledgered.report("json", "second.json")
    return first, second, embedded


def test_same_ledger_gives_byte_identical_json_and_hash(ledgered, exported):
    first, second, embedded = exported
    assert first.read_bytes() == second.read_bytes()
    document = json.loads(first.read_bytes())
    assert canonical(document) == first.read_bytes()  # the file is its own canonical form
    assert document["sha256"] == sha256(document["report"])
    with ledgered.factory()() as session:
        rows = session.execute(select(Report.format, Report.sha256, Report.path)).all()
        evidence = session.execute(select(func.count()).select_from(EvidenceRow)).scalar_one()
        now = session.execute(select(func.count()).select_from(EmbeddingRow)).scalar_one()
    recorded = {(f.value, s) for f, s, p in rows if p.endswith(("first.json", "second.json"))}
    assert recorded == {("json", __import__("hashlib").sha256(first.read_bytes()).hexdigest())}
    report = document["report"]
    shown = len(report["contributors"]) + len(report["harmful"])
    assert evidence == shown  # one evidence row per shown document, computed once
    assert now == embedded > 0  # the second export reused every cached embedding


def test_report_contents(ledgered, exported):
    report = json.loads(exported[0].read_bytes())["report"]
    top = report["contributors"][0]
    assert top["doc_key"] == "doc-004"
    assert top["evidence"]["label"] == "verbatim"
    reference = report["method"]["reference"]
    assert reference["kind"] == "corpus" and reference["not_trained_on"] == []
    assert reference["description"].startswith("8 corpus documents that are still trained on")
    assert report["target"]["source_flag"] is None
    start, end = top["evidence"]["longest_span"]["target"]
    assert report["target"]["text"][start:end] == report["target"]["text"].rstrip(">")[:end]
    assert all(r["specific"] < 0 for r in report["harmful"])
    manifest = report["manifest"]
    assert manifest["corpus"]["sha256"] == manifest["corpus"]["recomputed_sha256"]
    assert len(manifest["corpus"]["documents"]) == 40
    assert any(p.startswith("checkpoints/") for p in manifest["run_files"])
    assert manifest["final_weights_sha256"] and manifest["tokenizer_sha256"]
    by_source = {r["source"]: r for r in report["rollups"]["source"]}
    assert sum(r["documents"] for r in by_source.values()) == 40  # every document trained on
    assert all(r["takedown"]["first_order"] == r["raw"] for r in by_source.values())


def test_verify_passes_on_the_untouched_report(ledgered, exported):
    path = exported[0]
    checks = verify(
        path, factory=ledgered.factory(), corpus=ledgered.corpus, runs_root=ledgered.out / "runs"
    )
    assert failed(checks) == [], [str(c) for c in failed(checks)]
    assert skipped(checks) == [], [str(c) for c in skipped(checks)]
    fields = {c.field for c in checks}
    assert {"report file", "sha256", "ledger", "manifest.corpus.sha256", "evidence"} <= fields
    assert "manifest.final_weights_sha256" in fields
    assert any(f.startswith("manifest.run_files[checkpoints/") for f in fields)
    args = ["verify", str(path), "--db", ledgered.url, "--corpus", str(ledgered.corpus)]
    assert ledgered.cli(*args, "--out", str(ledgered.out)) == 0
    assert ledgered.cli(*args) == 3  # the run folder is not under the default --out


def test_every_single_byte_change_to_the_report_fails_naming_a_field(ledgered, exported, tmp_path):
    data = exported[0].read_bytes()
    rng = random.Random(6)
    named = set()
    for trial in range(300):
        at = rng.randrange(len(data))
        mutated = bytearray(data)
        mutated[at] = rng.choice([b for b in range(256) if b != data[at]])
        path = tmp_path / f"m{trial}.json"
        path.write_bytes(mutated)
        bad = failed(verify(path))
        assert bad, f"byte {at} changed to {mutated[at]} went unnoticed"
        assert all(c.field for c in bad)
        named |= {c.field.split("[")[0] for c in bad}
    assert "sections.contributors" in named and "sha256" in named and "report file" in named


def test_a_changed_value_with_recomputed_hashes_is_named_by_the_ledger(
    ledgered, exported, tmp_path
):
    document = json.loads(exported[0].read_bytes())
    document["report"]["contributors"][1]["specific"] += 1e-9  # a forger recomputes the hashes
    document["sections"]["contributors"] = sha256(document["report"]["contributors"])
    document["sha256"] = sha256(document["report"])
    path = tmp_path / "forged.json"
    path.write_bytes(canonical(document))
    assert failed(verify(path)) == []  # self-consistent ...
    bad = failed(verify(path, factory=ledgered.factory()))
    assert [c.field for c in bad] == ["report.contributors[1].specific", "ledger"]  # ... not true
    status = ledgered.cli("verify", str(path), "--db", ledgered.url)
    assert status == 1


def test_single_byte_changes_to_the_corpus_fail_naming_the_field(ledgered, exported, tmp_path):
    data = ledgered.corpus.read_bytes()
    rng = random.Random(7)
    for trial in range(25):
        at = rng.randrange(len(data))
        mutated = bytearray(data)
        mutated[at] = rng.choice([b for b in range(32, 127) if b != data[at]])
        path = tmp_path / f"corpus{trial}.jsonl"
        path.write_bytes(mutated)
        bad = failed(verify(exported[0], corpus=path))
        assert bad and bad[0].field == "manifest.corpus.file_sha256"
        text_changed = [c.field for c in bad if c.field.startswith("manifest.corpus.documents[")]
        assert all(f.endswith("].sha256") for f in text_changed)


def test_single_byte_changes_to_run_files_fail_naming_the_file(ledgered, exported):
    rng = random.Random(8)
    files = sorted(p for p in ledgered.run_dir.rglob("*") if p.is_file())
    checkpoints = [p for p in files if p.parent.name == "checkpoints"]
    targets = [*checkpoints, ledgered.run_dir / "model" / "model.safetensors"]
    targets += rng.sample(files, 6)
    for path in targets:
        original = path.read_bytes()
        at = rng.randrange(len(original))
        mutated = bytearray(original)
        mutated[at] ^= 1 << rng.randrange(8)
        try:
            path.write_bytes(mutated)
            bad = failed(verify(exported[0], runs_root=ledgered.out / "runs"))
        finally:
            path.write_bytes(original)
        name = path.relative_to(ledgered.run_dir).as_posix()
        assert f"manifest.run_files[{name}]" in [c.field for c in bad], name
    assert failed(verify(exported[0], runs_root=ledgered.out / "runs")) == []


def test_evidence_command_fills_the_ledger_for_every_target(ledgered):
    assert ledgered.cli("evidence", "--run", ledgered.run_key, "-k", "3", "--db", ledgered.url) == 0
    with ledgered.factory()() as session:
        targets = session.execute(
            select(func.count(func.distinct(EvidenceRow.target_id)))
        ).scalar_one()
    assert targets == 1  # "copy"; the reference targets get none


@pytest.mark.parametrize(
    ("optimizer", "accounting", "values", "adam_note"),
    [
        ("adamw", "auto", "Adam-aware", True),
        ("adamw", "sgd_proxy", "SGD proxy", False),
        ("sgd", "auto", "SGD closed form", False),
    ],
)
def test_method_names_the_values_the_run_computed(optimizer, accounting, values, adam_note):
    """The report's method says which update the values credit: a run under AdamW with the SGD
    proxy must not be described as Adam-aware (recipes before the option read as auto)."""
    config = TrainConfig(optimizer=optimizer, order=1, accounting=accounting)
    method = build.method_of(config, config.resolved_accounting().value)
    assert method["values"].startswith(values)
    assert any("Adam-aware" in a for a in method["approximations"]) == adam_note
    if accounting == "auto":  # a version-1 recipe without the option reads as auto
        raw = {"optimizer": optimizer, "order": 1}
        old = Recipe.from_json(_version_1_recipe(raw))
        assert build.method_of(old.config, old.accounting) == method


def _version_1_recipe(config: dict) -> dict:
    return {
        "run_id": "r",
        "kind": "train",
        "created": "2026-01-01T00:00:00+00:00",
        "config": config,
        "model": "tiny-gpt2",
        "corpus": {"path": "c.jsonl", "sha256": "0" * 64, "documents": 1},
        "tokenizer_sha256": "1" * 64,
        "initial_weights_sha256": "2" * 64,
        "reference": {"kind": "other_targets", "doc_ids": [], "texts": []},
        "targets": [],
    }
