"""The run trains on exactly the corpus it is given: the default reference keeps every document
in training, only documents the user lists are held out, and a bad reference is refused with a
message before anything is written (issue 15, item 1)."""

import json
from pathlib import Path

import numpy as np
import pytest
from synthetic import train_args, write_corpus

from attribution_engine.corpus import load_corpus
from attribution_engine.targets import TargetText
from attribution_engine.train_config import TrainConfig
from provenance import cli
from provenance.recipe import Recipe, Reference
from provenance.reference import (
    BadReference,
    check_against_targets,
    choose_reference,
    describe,
    target_flag,
    unreachable_targets,
)


@pytest.fixture
def corpus(tmp_path: Path):
    path = tmp_path / "corpus.jsonl"
    return path, write_corpus(path, n_docs=40)


def _reference_file(tmp_path: Path, lines: list[dict]) -> Path:
    path = tmp_path / "reference.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def test_the_default_reference_keeps_every_document_in_training(corpus):
    path, docs = corpus
    reference = choose_reference(load_corpus(path), TrainConfig())
    assert reference.kind == "corpus" and reference.excluded == ()
    assert len(reference.doc_ids) == 8 and set(reference.doc_ids) <= {d["id"] for d in docs}
    assert reference.own_columns == {doc: j for j, doc in enumerate(reference.doc_ids)}
    assert choose_reference(load_corpus(path), TrainConfig()) == reference  # seeded


def test_only_listed_documents_are_held_out(corpus):
    path, _ = corpus
    reference = choose_reference(
        load_corpus(path), TrainConfig(reference="held_out"), hold_out=["doc-003", "doc-009"]
    )
    assert reference.excluded == ("doc-003", "doc-009") and reference.own_columns == {}


@pytest.mark.parametrize(
    ("config", "options", "message"),
    [
        (TrainConfig(reference="held_out"), {}, "needs the ones to hold out listed"),
        (TrainConfig(reference="held_out"), {"hold_out": ["nope"]}, "not in the corpus"),
        (TrainConfig(), {"hold_out": ["doc-001"]}, "needs --reference held_out"),
        (TrainConfig(reference="file"), {}, "needs --reference-file"),
        (TrainConfig(), {"reference_file": Path("r.jsonl")}, "needs --reference file"),
        (TrainConfig(reference_documents=1), {}, "at least 2 reference documents"),
    ],
)
def test_a_reference_that_cannot_be_used_is_refused_by_name(corpus, config, options, message):
    path, _ = corpus
    with pytest.raises(BadReference, match=message):
        choose_reference(load_corpus(path), config, **options)


def test_a_reference_file_is_read_and_checked_against_the_corpus(corpus, tmp_path):
    path, docs = corpus
    config = TrainConfig(reference="file")
    good = _reference_file(tmp_path, [{"id": "r1", "text": "a text the corpus lacks"}])
    reference = choose_reference(load_corpus(path), config, reference_file=good)
    assert reference == Reference("file", ("r1",), ("a text the corpus lacks",))
    cases = [
        ([], "has no texts"),
        ([{"id": "r1", "text": docs[5]["text"]}], "overlaps corpus document 'doc-005'"),
        ([{"id": "r1", "text": docs[5]["text"][:60]}], "overlaps corpus document 'doc-005'"),
        ([{"id": "r1", "text": "other words", "prompt": "p"}], "take no prompt"),
    ]
    for lines, message in cases:
        bad = _reference_file(tmp_path, lines)
        with pytest.raises(BadReference, match=message):
            choose_reference(load_corpus(path), config, reference_file=bad)


def test_a_reference_identical_to_a_target_is_refused():
    reference = Reference("file", ("r1",), ("The same  words.",))
    with pytest.raises(BadReference, match="target 't' is the same text as reference 'r1'"):
        check_against_targets(reference, [TargetText("t", "the same words.")])
    check_against_targets(reference, [TargetText("t", "other words")])
    corpus_reference = Reference("corpus", ("d1",), ("The same  words.",))
    check_against_targets(corpus_reference, [TargetText("t", "the same words.")])  # allowed


def test_a_target_copying_a_held_out_document_is_flagged(corpus):
    path, docs = corpus
    reference = choose_reference(
        load_corpus(path), TrainConfig(reference="held_out"), hold_out=["doc-004"]
    )
    copy = TargetText("copy", docs[4]["text"])
    other = TargetText("other", docs[7]["text"])
    (flag,) = unreachable_targets([copy, other], reference)
    assert flag.target_id == "copy" and flag.document == "doc-004"
    assert "does not train on" in flag.reason
    assert target_flag([flag], "copy") == flag.reason and target_flag([flag], "other") is None
    assert describe(reference).startswith("1 corpus document the user held out")


def test_a_verbatim_source_chosen_as_a_reference_text_is_trained_on_and_ranks(
    corpus, tmp_path, capsys
):
    """The defect behind issue 15: the copied document was one of the reference sample. It
    now stays in training, leaves its own reference column out, and is found."""
    path, docs = corpus
    source = choose_reference(load_corpus(path), TrainConfig()).doc_ids[0]
    text = next(d["text"] for d in docs if d["id"] == source)
    targets = tmp_path / "targets.jsonl"
    targets.write_text(json.dumps({"id": "copy", "text": text}) + "\n")
    out = tmp_path / "out"
    cli.main(train_args(path, out, "--targets", str(targets)))
    run_id = capsys.readouterr().out.strip().splitlines()[-1]
    run = out / "runs" / run_id
    recipe = Recipe.load(run)
    assert source in recipe.reference.doc_ids and recipe.reference.excluded == ()
    trained = set(json.loads((run / "rows.json").read_text()))
    assert trained == {d["id"] for d in docs}  # every document of the corpus is trained on
    visits = np.load(run / "results.npz")["visit_row"]
    row_docs = json.loads((run / "rows.json").read_text())
    assert source in {row_docs[r] for r in visits}
    cli.main(["top", "--run", run_id, "--target", "copy", "--json", "--out", str(out)])
    ranked = json.loads(capsys.readouterr().out)
    assert ranked[0]["doc_id"] == source


def test_bad_references_on_the_command_line_exit_2_and_start_nothing(corpus, tmp_path, capsys):
    path, docs = corpus
    out = tmp_path / "out"
    overlap = _reference_file(tmp_path, [{"id": "r", "text": docs[0]["text"]}])
    cases = [
        (["--reference", "file", "--reference-file", str(overlap)], "overlaps corpus document"),
        (["--reference", "held_out"], "--hold-out ID"),
        (["--hold-out", "doc-001"], "needs --reference held_out"),
    ]
    for extra, message in cases:
        with pytest.raises(SystemExit) as stop:
            cli.main(["train", "--corpus", str(path), "--out", str(out), "--quiet", *extra])
        assert stop.value.code == 2
        assert message in capsys.readouterr().err
    assert not (out / "runs").exists() or not any((out / "runs").iterdir())


def test_a_run_holding_out_a_copied_document_says_so(corpus, tmp_path, capsys):
    path, docs = corpus
    targets = tmp_path / "targets.jsonl"
    targets.write_text(json.dumps({"id": "t", "text": docs[2]["text"]}) + "\n")
    out = tmp_path / "out"
    held = ["--reference", "held_out", "--hold-out", "doc-002", "--hold-out", "doc-005"]
    cli.main(train_args(path, out, "--targets", str(targets), *held))
    captured = capsys.readouterr()
    assert "warning: target t copies" in captured.err and "doc-002" in captured.err
    run = out / "runs" / captured.out.strip().splitlines()[-1]
    (flag,) = Recipe.load(run).flags
    assert (flag.target_id, flag.document) == ("t", "doc-002")
    trained = set(json.loads((run / "rows.json").read_text()))
    assert trained == {d["id"] for d in docs} - {"doc-002", "doc-005"}  # exactly the listed ones
