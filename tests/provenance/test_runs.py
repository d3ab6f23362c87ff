"""Runs end to end through the CLI: planted copy ranked first, bit-exact resume after kill -9,
replay that proves the same model, and gradient accumulation equal to full batches."""

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from synthetic import run_cli, train_args, write_corpus

from db.fused_ranks import stored_fused_top
from db.session import make_engine, make_sessionmaker, session_scope
from provenance import cli
from provenance.ranking import computed_fused_ranking


@pytest.fixture
def corpus(tmp_path: Path) -> tuple[Path, list[dict]]:
    path = tmp_path / "corpus.jsonl"
    return path, write_corpus(path)


def results(out: Path, run_id: str) -> dict:
    path = out / "runs" / run_id
    data = dict(np.load(path / "results.npz"))
    data["summary"] = json.loads((path / "summary.json").read_text())
    return data


def test_verbatim_copy_ranks_its_source_first(corpus, tmp_path, capsys):
    corpus_path, docs = corpus
    targets = tmp_path / "targets.jsonl"
    source = next(d for d in docs if d["id"] == "doc-017")
    targets.write_text(json.dumps({"id": "copy", "text": source["text"]}) + "\n")
    out = tmp_path / "out"
    cli.main(train_args(corpus_path, out, "--targets", str(targets)))
    run_id = capsys.readouterr().out.strip().splitlines()[-1]
    cli.main(["top", "--run", run_id, "--target", "copy", "--json", "--out", str(out)])
    ranked = json.loads(capsys.readouterr().out)
    assert ranked[0]["doc_id"] == "doc-017"
    # The final commit stored the fused order `top` read; it is the order computed on read.
    with session_scope(make_sessionmaker(make_engine(f"sqlite:///{out / 'ledger.sqlite3'}"))) as s:
        stored = stored_fused_top(s, run_id, "copy", 10)
        computed = computed_fused_ranking(s, run_id, "copy", 10)
    assert stored is not None
    assert [r.doc_key for r in stored] == computed["doc_key"].tolist()
    assert [r["doc_id"] for r in ranked] == computed["doc_key"].tolist()
    assert {"rank", "doc_id", "value", "raw_value", "source"} <= set(ranked[0])
    assert ranked[0]["source"] == "author-3"
    assert [r["rank"] for r in ranked] == list(range(1, len(ranked) + 1))
    # The shown numbers, recomputed visit by visit from the raw per-visit record.
    path = out / "runs" / run_id
    data = np.load(path / "results.npz")
    row_docs = json.loads((path / "rows.json").read_text())
    # The default reference: corpus documents kept in training, each leaving its own column out.
    recipe = json.loads((path / "recipe.json").read_text())
    assert recipe["reference"]["kind"] == "corpus" and set(row_docs) == {d["id"] for d in docs}
    own = {doc: j for j, doc in enumerate(recipe["reference"]["doc_ids"])}
    raw, reference = {}, {}
    for row, values in zip(data["visit_row"], data["visit_values"], strict=True):
        doc = row_docs[row]
        columns = [v for j, v in enumerate(values[1:]) if own.get(doc) != j]
        raw[doc] = raw.get(doc, 0.0) + values[0]
        reference[doc] = reference.get(doc, 0.0) + sum(columns) / len(columns)
    specific = {doc: raw[doc] - reference[doc] for doc in raw}
    positive = sum(v for v in specific.values() if v > 0)
    for r in ranked:
        assert r["raw_value"] == pytest.approx(raw[r["doc_id"]], rel=1e-12, abs=1e-15)
        assert r["value"] == pytest.approx(specific[r["doc_id"]], rel=1e-9, abs=1e-12)
        assert r["share"] == pytest.approx(max(r["value"], 0) / positive, rel=1e-9)
        # The default order lists contributors only, each with its rank by specific value.
        assert r["value"] > 0
        higher = [d for d, v in specific.items() if v > r["value"] and d != r["doc_id"]]
        assert r["rank_by_value"] == 1 + len(higher)
    # The specific-value order is the plain sort of the recomputed values.
    cli.main(
        [
            "top",
            "--run",
            run_id,
            "--target",
            "copy",
            "--json",
            "--out",
            str(out),
            "--by",
            "specific",
        ]
    )
    by_value = json.loads(capsys.readouterr().out)
    assert sorted(specific.values(), reverse=True)[:10] == pytest.approx(
        [r["value"] for r in by_value], rel=1e-9
    )


def test_resume_after_kill_is_bit_identical(corpus, tmp_path):
    corpus_path, _ = corpus
    whole = tmp_path / "whole"
    reference = run_cli(*train_args(corpus_path, whole))
    broken = tmp_path / "broken"
    process = subprocess.Popen(
        [sys.executable, "-m", "provenance.cli", *train_args(corpus_path, broken)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    kill_after = random.Random(os.getpid()).choice([5, 10, 15, 20])
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        found = list(broken.glob("runs/*/checkpoints/step-*.pt"))
        if any(int(p.stem.split("-")[1]) >= kill_after for p in found):
            process.send_signal(signal.SIGKILL)
            break
        time.sleep(0.01)
    process.wait()
    assert process.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    (run_id,) = [p.name for p in (broken / "runs").iterdir()]
    assert not (broken / "runs" / run_id / "summary.json").exists()
    run_cli("train", "--resume", run_id, "--out", str(broken), "--quiet")
    first, second = results(whole, reference), results(broken, run_id)
    assert np.array_equal(first["visit_values"], second["visit_values"])
    assert np.array_equal(first["lrs"], second["lrs"])
    assert first["summary"]["final_weights_sha256"] == second["summary"]["final_weights_sha256"]


def test_replay_is_the_same_model_and_gives_the_same_values(corpus, tmp_path):
    corpus_path, docs = corpus
    targets = tmp_path / "targets.jsonl"
    targets.write_text(
        json.dumps({"id": "a", "text": docs[5]["text"]})
        + "\n"
        + json.dumps({"id": "b", "prompt": "river harbour", "text": " engine treaty"})
        + "\n"
    )
    out = tmp_path / "out"
    with_targets = run_cli(*train_args(corpus_path, out, "--targets", str(targets)))
    plain = run_cli(*train_args(corpus_path, out))
    replayed = run_cli(
        "attribute", "--run", plain, "--targets", str(targets), "--out", str(out), "--quiet"
    )
    summary = results(out, replayed)["summary"]
    assert summary["verified_same_model"] is True
    assert summary["weight_distance"] == 0.0
    assert np.array_equal(
        results(out, replayed)["visit_values"], results(out, with_targets)["visit_values"]
    )


@pytest.mark.parametrize("optimizer", ["sgd", "adamw"])
def test_gradient_accumulation_equals_full_batches(corpus, tmp_path, optimizer):
    corpus_path, _ = corpus
    out = tmp_path / "out"
    common = ["--steps", "5", "--checkpoint-every", "50", "--optimizer", optimizer]
    full = run_cli(*train_args(corpus_path, out, *common))
    accumulated = run_cli(
        *train_args(corpus_path, out, *common, "--batch-rows", "4", "--accumulation", "2")
    )
    a, b = results(out, full), results(out, accumulated)
    assert np.array_equal(a["visit_row"], b["visit_row"])
    np.testing.assert_allclose(b["train_loss"], a["train_loss"], rtol=1e-6)
    # Adam's first steps divide by sqrt(v_hat) + eps with v_hat built from one or two squared
    # gradients: where the batch gradient nearly cancels, float32 rounding of the two
    # summation orders is magnified (up to 2e-4 relative at step 2 on this corpus), so under
    # AdamW the rows are compared from step 3 on, where v_hat averages several gradients.
    first = 0 if optimizer == "sgd" else 16
    np.testing.assert_allclose(
        b["visit_values"][first:], a["visit_values"][first:], rtol=1e-4, atol=1e-9
    )


def test_the_sgd_proxy_can_be_chosen_under_adamw(corpus, tmp_path):
    """--accounting sgd_proxy credits lr c g_v . g_i whatever AdamW applies (the paper's form):
    on the first step, at the same weights and rows, that is exactly what plain SGD's values
    are, while the default (Adam-aware) differs. The recipe records the choice."""
    corpus_path, _ = corpus
    out = tmp_path / "out"
    common = ["--steps", "2", "--checkpoint-every", "50"]
    proxy = run_cli(*train_args(corpus_path, out, *common, "--accounting", "sgd_proxy"))
    sgd = run_cli(*train_args(corpus_path, out, *common, "--optimizer", "sgd"))
    adam = run_cli(*train_args(corpus_path, out, *common))
    first = slice(0, 8)  # the 8 rows of step 1
    a, b, c = (results(out, run)["visit_values"][first] for run in (proxy, sgd, adam))
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=0)
    assert not np.allclose(c, a, rtol=1e-3)
    recipe = json.loads((out / "runs" / proxy / "recipe.json").read_text())
    assert recipe["config"]["accounting"] == "sgd_proxy"


def test_fine_tuning_a_local_hugging_face_model(corpus, tmp_path):
    """A local model directory (Llama: untied, RMSNorm) is fine-tuned, attributed and replayed."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from attribution_engine.tokenizer import train_bpe_tokenizer

    corpus_path, docs = corpus
    tokenizer = train_bpe_tokenizer([d["text"] for d in docs], vocab_size=400)
    torch.manual_seed(0)
    model = LlamaForCausalLM(
        LlamaConfig(
            vocab_size=len(tokenizer),
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=1,
            num_attention_heads=2,
            num_key_value_heads=1,
            max_position_embeddings=64,
            bos_token_id=0,
            eos_token_id=0,
            pad_token_id=0,
            tie_word_embeddings=False,
        )
    )
    model_dir = tmp_path / "llama"
    model.save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    targets = tmp_path / "targets.jsonl"
    targets.write_text(json.dumps({"id": "copy", "text": docs[11]["text"]}) + "\n")
    out = tmp_path / "out"
    run_id = run_cli(*train_args(corpus_path, out, "--model", str(model_dir), "--steps", "20"))
    recipe = json.loads((out / "runs" / run_id / "recipe.json").read_text())
    assert recipe["config"]["context"] == 64  # clamped to the model's positions
    replayed = run_cli(
        "attribute", "--run", run_id, "--targets", str(targets), "--out", str(out), "--quiet"
    )
    assert results(out, replayed)["summary"]["verified_same_model"] is True


def test_bad_requests_fail_with_a_message_and_write_nothing(corpus, tmp_path, capsys):
    corpus_path, _ = corpus
    out = tmp_path / "out"
    too_long = tmp_path / "long.jsonl"
    too_long.write_text(json.dumps({"id": "t", "text": "river " * 400}) + "\n")
    cases = [
        (["--corpus", str(tmp_path / "missing.jsonl")], "no such file"),
        (["--corpus", str(corpus_path), "--targets", str(too_long)], "shorten"),
        (["--corpus", str(corpus_path), "--reference", "other_targets"], "at least two"),
        (["--corpus", str(corpus_path), "--optimizer", "sgd", "--accounting", "adam"], "adamw"),
    ]
    for extra, message in cases:
        with pytest.raises(SystemExit) as stop:
            cli.main(["train", "--out", str(out), "--quiet", *extra])
        assert stop.value.code == 2
        assert message in capsys.readouterr().err
    assert not (out / "runs").exists() or not any((out / "runs").iterdir())
