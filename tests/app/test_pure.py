"""The pure helpers behind the pages: figures, roll-ups, health, ETA, payloads, launch flags,
pending-target status and the ledger overview reads."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import pytest

from attribution_engine.targets import load_targets
from attribution_engine.train_config import TrainConfig
from db import catalog, listings, rankings
from db.rankings import rollup, top_documents
from db.session import make_engine, make_sessionmaker, session_scope
from provenance import efficiency, figures, health, pending, rollups, run_list, serve
from provenance.cli import _parser
from provenance.jobs.forms import attribute_job, default, help_text, train_job
from provenance.jobs.roots import Roots
from provenance.uploads import generated_target, parse_text_box, save_targets
from tests.app.conftest import KNOWN_TARGET, KNOWN_TOP, RUN, seed_fixture_ledger


@pytest.fixture
def session(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    seed_fixture_ledger(url)
    engine = make_engine(url)
    with session_scope(make_sessionmaker(engine)) as s:
        yield s
    engine.dispose()


def test_figures_from_repository_frames(session) -> None:
    top = top_documents(session, RUN, KNOWN_TARGET, 5)
    bars = figures.top_documents_figure(top)
    assert isinstance(bars, go.Figure)
    assert bars.data[0].y[-1] == KNOWN_TOP  # rank 1 drawn on top
    rolled = rollup(session, RUN, KNOWN_TARGET, "source")
    assert figures.rollup_figure(rolled, "source").data[0].x[0] == "Acme Press"
    paths = pd.DataFrame({"step": [1, 2, 1], "doc_key": ["a", "a", "<b>"], "value": [0.1, 0.2, 0]})
    lines = figures.trajectories_figure(paths)
    assert [t.name for t in lines.data] == ["&lt;b&gt;", "a"]  # user labels escaped
    scatter = figures.similarity_scatter_figure(
        pd.DataFrame({"doc_key": ["a"], "value": [0.1], "similarity": [0.9]})
    )
    assert list(scatter.data[0].x) == [0.9]
    series = pd.DataFrame({"step": [0, 1], "values_sum": [1.0, 2.0], "predicted_drop": [1, 1]})
    assert list(figures.efficiency_figure(series).data[0].y) == [1.0, 3.0]


def test_overview_reads(session) -> None:
    totals = listings.totals(session)
    assert (totals.corpora, totals.documents, totals.runs, totals.targets) == (1, 8, 1, 2)
    assert totals.jobs_open == 1
    stored = listings.list_runs(session)
    assert stored.iloc[0]["recipe"]["total_steps"] == 4  # handed back as stored, unread
    runs = run_list.with_recipes(stored)
    assert list(runs.columns) == run_list.RUN_COLUMNS
    assert runs.iloc[0]["run_key"] == RUN and runs.iloc[0]["targets"] == 2
    assert runs.iloc[0]["total_steps"] == 4 and runs.iloc[0]["model"] == "tiny-gpt2"
    unreadable = run_list.with_recipes(stored.assign(recipe=[{"lr": 1}]))
    assert unreadable.iloc[0]["total_steps"] is None and unreadable.iloc[0]["model"] is None
    targets = listings.list_targets(session)
    assert list(targets["target_key"]) == [KNOWN_TARGET, "t-other"]  # no reference target
    assert targets["attributed"].all()
    assert catalog.document_detail(session, RUN, KNOWN_TOP).source == "Acme Press"
    with pytest.raises(LookupError):
        catalog.document_detail(session, RUN, "nope")
    check = rankings.efficiency_check(session, RUN, KNOWN_TARGET)
    assert check.steps == 3
    assert check.values_sum == pytest.approx(0.36)
    assert check.realised_drop == pytest.approx(0.3)
    assert check.decay_drop == pytest.approx(0.012)
    terms = efficiency.decomposition(check).set_index("term")["nats"]
    assert terms.iloc[0] + terms.iloc[1] + terms.iloc[2] == pytest.approx(check.predicted_drop)
    assert terms.iloc[3] + terms.iloc[4] == pytest.approx(check.realised_drop)
    assert check.optimizer_terms == pytest.approx(0.39 - 0.012 - 0.36)
    assert "largest term is higher-order terms (-0.09 nats)" in efficiency.verdict(check)
    one = rollup(session, RUN, KNOWN_TARGET, "author")
    ranked = top_documents(session, RUN, KNOWN_TARGET, 100)
    detail = catalog.document_detail
    authors = [detail(session, RUN, d).author or "(unknown)" for d in ranked.doc_key]
    by_author = ranked.assign(author=authors).groupby("author")["specific_value"].sum()
    assert (one["targets"] == 1).all() and one["documents"].sum() == len(ranked)
    assert one.set_index("author")["specific"].to_dict() == pytest.approx(by_author.to_dict())
    all_targets = rollup(session, RUN, None, "source")
    beta = all_targets.set_index("source").loc["Beta Books"]
    assert beta["targets"] == 2 and beta["specific"] == pytest.approx(0.57)


def test_takedown_sentences() -> None:
    rolled = pd.DataFrame({"source": ["A", "B"], "raw": [0.5, -0.25], "specific": [0.4, -0.3]})
    sentences = list(rollups.with_takedown(rolled, "source", 1.0)["takedown"])
    assert sentences[0] == (
        "Without source A, the target's loss reduction would be about 0.5 nats lower, first "
        "order, beside a measured drop of 1 nats."
    )
    assert "0.25 nats higher" in sentences[1]


def test_health_by_document_and_jsonl() -> None:
    pairs = pd.DataFrame(
        {
            "doc_key": ["d1", "d2", "d1"],
            "target_key": ["t1", "t1", "t2"],
            "raw": [-1.0, -0.5, -0.25],
            "specific": [-1.0, -0.5, -0.25],
            "source": ["s", None, "s"],
            "title": ["x", None, "x"],
        }
    )
    summary = health.by_document(pairs)
    assert list(summary["doc_key"]) == ["d1", "d2"]
    assert summary.iloc[0]["negative_targets"] == 2
    assert summary.iloc[0]["negative_sum"] == -1.25
    assert health.to_jsonl(summary).count("\n") == 2
    assert health.by_document(pairs.iloc[0:0]).empty


def test_train_job_is_validated(tmp_path: Path) -> None:
    roots = Roots(tmp_path)
    roots.corpora.mkdir()
    (roots.corpora / "c.jsonl").write_text('{"id": "a", "text": "b"}\n')
    job = train_job(roots, "c.jsonl", "tiny-gpt2", steps=5, order=2, seed=1)
    assert job.config.order == 2 and job.corpus_path == Path("c.jsonl")  # a name, not a path
    assert job.config.batch_rows == TrainConfig().batch_rows  # unset options keep defaults
    with pytest.raises(ValueError, match=r"not a \.jsonl or \.csv corpus"):
        train_job(roots, "missing.jsonl", "tiny-gpt2", steps=5, order=1, seed=0)
    with pytest.raises(ValueError, match="nothing is downloaded"):
        train_job(roots, "c.jsonl", "gpt2", steps=5, order=1, seed=0)
    with pytest.raises(ValueError):
        train_job(roots, "c.jsonl", "tiny-gpt2", steps=5, order=3, seed=0)
    proxy = train_job(
        roots, "c.jsonl", "tiny-gpt2", steps=5, order=1, seed=0, accounting="sgd_proxy"
    )
    assert proxy.config.accounting == "sgd_proxy"
    with pytest.raises(ValueError, match="accounting must be one of"):
        train_job(roots, "c.jsonl", "tiny-gpt2", steps=5, order=1, seed=0, accounting="adamw")
    with pytest.raises(ValueError, match=r"unknown training option\(s\) \['stepz'\]"):
        train_job(roots, "c.jsonl", "tiny-gpt2", stepz=5)


def test_form_defaults_and_help_come_from_train_config() -> None:
    for option in fields(TrainConfig):
        assert default(option.name) == option.default
        assert help_text(option.name) == option.metadata["help"]


def test_attribute_job_refuses_repeated_ids() -> None:
    (one,) = parse_text_box("one", target_id="a")
    (two,) = parse_text_box("two", target_id="a")
    assert attribute_job("r", [one]).targets == (one,)
    with pytest.raises(ValueError, match="repeat the id 'a'; give one of the two"):
        attribute_job("r", [one, two])


def test_launch_is_local_and_hardened(tmp_path: Path) -> None:
    cmd = serve.command(8600)
    assert "--server.address=127.0.0.1" in cmd
    assert "--server.maxUploadSize=20" in cmd
    assert "--server.enableXsrfProtection=true" in cmd
    assert "--client.showErrorDetails=none" in cmd
    assert "--browser.gatherUsageStats=false" in cmd
    assert cmd[-1] == "--server.port=8600" and cmd[4] == str(serve.ENTRY)
    env = serve.environment(tmp_path, "sqlite:////x.db", {"PYTHONPATH": "/other"})
    assert env["PROVENANCE_DATA_DIR"] == str(tmp_path.resolve())
    assert env["PROVENANCE_DB_URL"] == "sqlite:////x.db"
    assert env["PYTHONPATH"].split(":")[0] == str(serve.REPO_ROOT)
    args = _parser().parse_args(["ui", "--port", "9000", "--out", str(tmp_path)])
    assert (args.command, args.port, args.out) == ("ui", 9000, tmp_path)


def test_pending_status_and_estimate(tmp_path: Path) -> None:
    first = save_targets(parse_text_box("one", target_id="a"), tmp_path)
    save_targets(parse_text_box("two", target_id="b"), tmp_path)
    sampled = save_targets([generated_target("three", "Prompt:")], tmp_path, generated=True)
    assert sampled.name.startswith("generated-") and pending.is_generated(sampled)
    loaded = pending.load_pending(tmp_path)
    sampled_id = load_targets(sampled)[0].id
    assert [t.id for t, _ in loaded] == ["a", "b", sampled_id]
    # Only the model's output goes to the job as generated (origin "generated" in the ledger).
    assert pending.generated_ids(loaded, {"a", sampled_id}) == (sampled_id,)
    ledger_targets = pd.DataFrame(
        {"run_key": ["r"], "target_key": ["b"], "text": ["two"], "attributed": [True]}
    )
    records = attribute_job("r", load_targets(first)).to_json()["targets"]
    jobs = pd.DataFrame(
        {"id": [7, 8], "status": ["queued", "queued"], "run_key": ["r", "r"]}
        | {"targets": [records, str(first)]}  # job 8: an old path payload, ignored
    )
    table = pending.pending_table(loaded, ledger_targets, jobs)
    assert list(table["status"]) == ["queued (job 7)", "attributed (run r)", "not attributed"]
    assert list(table["origin"]) == ["uploaded", "uploaded", "generated"]
    assert pending.replay_estimate(tmp_path, "r", 1).startswith("Unknown")
    run = tmp_path / "runs" / "r"
    run.mkdir(parents=True)
    (run / "recipe.json").write_text("{}")
    (run / "summary.json").write_text('{"seconds": 120.0, "steps": 40}')
    assert pending.replay_estimate(tmp_path, "r", 2).startswith("About 2 min")
