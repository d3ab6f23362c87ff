"""`provenance verify` against forged reports (issue 18 items 2, 3, 11, 15, and 16 for verify):
an edited HTML page, hashes recomputed after an edit, a report that shows no documents, a
missing run folder, relabelled evidence in the ledger, paths outside the run folder, a model
folder the report names, a pickled final model, integral floats beyond 2**53.

Exit codes (provenance/reports/checks.py): 0 matches the ledger in every check, 1 a check
failed, 3 less was proved (self-consistent only, or some checks not done), 2 bad input.
"""

from __future__ import annotations

import json
import shutil

import pytest
from report_fixtures import Ledgered, train_run
from sqlalchemy import select, update

import attribution_engine.models
import provenance.reports.verify_files as verify_files
from db.models import Document, EvidenceLabel, EvidenceRow
from provenance.canonical import canonical, loads, sha256
from provenance.reports import failed, skipped, verify


@pytest.fixture(scope="module")
def ledgered(tmp_path_factory) -> Ledgered:
    tmp = tmp_path_factory.mktemp("forged")
    return train_run(tmp, f"sqlite:///{tmp / 'ledger.sqlite3'}")


@pytest.fixture(scope="module")
def exported(ledgered):
    return ledgered.report("json"), ledgered.report("html")


def _verify_cli(ledgered: Ledgered, path, capsys, *extra: str, full: bool = True):
    """(exit status, stdout) of `provenance verify`; full: with the ledger, corpus and runs."""
    args = ["verify", str(path), *extra]
    if full:
        args += ["--db", ledgered.url, "--corpus", str(ledgered.corpus)]
        args += ["--out", str(ledgered.out)]
    capsys.readouterr()
    status = ledgered.cli(*args)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def _forge(source, target, edit) -> dict:
    """The report at `source` edited by `edit(report)`, every hash recomputed, at `target`."""
    document = loads(source.read_bytes())
    edit(document["report"])
    document["sections"] = {name: sha256(part) for name, part in document["report"].items()}
    document["sha256"] = sha256(document["report"])
    target.write_bytes(canonical(document))
    return document


def test_edited_html_report_does_not_verify(ledgered, exported, tmp_path, capsys):
    page = exported[1].read_bytes()
    status, out, _ = _verify_cli(ledgered, exported[1], capsys)
    assert status == 0, out
    assert "matches ledger" in out and "ok   html:" in out

    top = json.loads(exported[0].read_bytes())["report"]["contributors"][0]
    shown = f"<td>{top['specific']:+.4g}</td>".encode()  # 4 significant digits, as printed
    assert shown in page
    edits = {
        "value": page.replace(shown, b"<td>+0.9999999</td>", 1),
        "paragraph": page.replace(
            b'<h2 id="s1">',
            b'<h2>Conclusion</h2><p>The target was written independently.</p><h2 id="s1">',
        ),
    }
    for name, edited in edits.items():
        path = tmp_path / f"{name}.html"
        path.write_bytes(edited)
        status, out, _ = _verify_cli(ledgered, path, capsys)
        assert status == 1, (name, out)
        assert "FAIL html: the page differs" in out and "from line" in out
        assert "matches ledger" not in out.splitlines()[-1]


def test_report_with_recomputed_hashes_is_only_self_consistent(
    ledgered, exported, tmp_path, capsys
):
    def swap_and_inflate(report):
        rows = report["contributors"]
        rows[0]["rank"], rows[1]["rank"] = rows[1]["rank"], rows[0]["rank"]
        rows[0], rows[1] = rows[1], rows[0]
        rows[0]["specific"] *= 10

    path = tmp_path / "forged.json"
    _forge(exported[0], path, swap_and_inflate)
    status, out, _ = _verify_cli(ledgered, path, capsys, full=False)
    verdict = out.splitlines()[-1]
    assert status == 3, out
    assert "self-consistent (hashes match the report's own content" in verdict
    assert "verified" not in out and "matches ledger" not in out
    assert "NOT checked: manifest.corpus.file_sha256" in verdict and "ledger" in verdict

    status, out, _ = _verify_cli(ledgered, path, capsys)
    assert status == 1
    assert "FAIL report.contributors[0]" in out and "check(s) FAILED" in out.splitlines()[-1]


def test_report_showing_zero_documents_to_hide_contributors_fails(ledgered, exported, tmp_path):
    def hide(report):
        report["method"]["documents_shown"] = 0
        report["contributors"], report["harmful"] = [], []

    path = tmp_path / "hidden.json"
    _forge(exported[0], path, hide)
    assert failed(verify(path)) == []  # self-consistent ...
    checks = verify(path, factory=ledgered.factory(), runs_root=ledgered.out / "runs")
    fields = [c.field for c in failed(checks)]
    assert fields[0] == "report.method.documents_shown", fields  # ... but not the ledger's
    assert "report.contributors" in fields


def test_missing_run_folder_is_listed_not_verified(ledgered, exported, tmp_path, capsys):
    def unhash(report):
        report["manifest"]["run_dir"] = str(tmp_path / "gone")
        report["manifest"]["run_files"] = {}

    path = tmp_path / "unhashed.json"
    _forge(exported[0], path, unhash)
    args = ["--db", ledgered.url, "--corpus", str(ledgered.corpus)]
    args += ["--out", str(tmp_path)]  # no runs/ there: the run folder is not at hand
    status, out, _ = _verify_cli(ledgered, path, capsys, *args, full=False)
    assert status == 3, out
    for field in verify_files.RUN_FILES_FIELDS:
        assert f"skip {field}: run folder not found" in out
    assert "matches ledger" in out.splitlines()[-1] and "NOT checked" in out.splitlines()[-1]

    status, out, _ = _verify_cli(ledgered, path, capsys)  # with the run folder: its files
    assert status == 1 and "the report does not list" in out


def test_relabelled_evidence_in_the_ledger_fails_against_recomputed_evidence(
    ledgered, tmp_path, capsys
):
    factory = ledgered.factory(write=True)
    with factory() as session, session.begin():
        row = session.execute(
            select(
                EvidenceRow.target_id, EvidenceRow.document_id, EvidenceRow.label, Document.doc_key
            )
            .join(Document, Document.id == EvidenceRow.document_id)
            .where(EvidenceRow.label != EvidenceLabel.VERBATIM)
            .limit(1)
        ).one()
        relabel = (
            update(EvidenceRow)
            .where(EvidenceRow.target_id == row.target_id)
            .where(EvidenceRow.document_id == row.document_id)
        )
        session.execute(relabel.values(label=EvidenceLabel.VERBATIM))
    try:
        path = ledgered.report("json", "relabelled.json")
        report = json.loads(path.read_bytes())["report"]
        (shown,) = [
            f"report.{section}[{i}].evidence"
            for section in ("contributors", "harmful")
            for i, r in enumerate(report[section])
            if r["doc_key"] == row.doc_key
        ]
        status, out, _ = _verify_cli(ledgered, path, capsys)
        assert status == 1, out
        assert f'FAIL {shown}: label: report has "verbatim", recomputed' in out
        assert "ok   ledger: every field matches the ledger" in out  # the row alone proves nothing
    finally:
        with factory() as session, session.begin():
            session.execute(relabel.values(label=row.label))


def test_report_naming_paths_outside_the_run_folder_reads_none(
    ledgered, exported, tmp_path, monkeypatch
):
    runs = tmp_path / "runs"
    folder = runs / ledgered.run_key
    shutil.copytree(ledgered.run_dir, folder)
    (folder / "leak").symlink_to("/etc/hostname")
    names = ["../../../../etc/hostname", "/etc/hostname", "checkpoints/../../x", "leak"]

    def point_outside(report):
        report["manifest"]["run_files"].update(dict.fromkeys(names, "0" * 64))

    path = tmp_path / "outside.json"
    _forge(exported[0], path, point_outside)
    read = []
    real_sha256 = verify_files.file_sha256
    monkeypatch.setattr(
        verify_files, "file_sha256", lambda p: read.append(p.resolve()) or real_sha256(p)
    )
    checks = verify(path, runs_root=runs)
    bad = {c.field: c.detail for c in failed(checks)}
    for name in names:
        assert "is not a path inside the run folder" in bad[f"manifest.run_files[{name}]"]
    assert read and all(p.is_relative_to(folder.resolve()) for p in read), read

    _forge(exported[0], path, lambda report: report["run"].update(key="../../etc"))
    checks = verify(path, runs_root=runs)
    assert [c.field for c in failed(checks)][:1] == ["report.run.key"]


def test_report_naming_a_model_folder_outside_the_root_loads_no_model(
    ledgered, exported, tmp_path, monkeypatch
):
    def never(*args, **kwargs):
        raise AssertionError(f"verify loaded a model: {args}")

    monkeypatch.setattr(attribution_engine.models, "load_local_model", never)
    path = tmp_path / "elsewhere.json"
    _forge(exported[0], path, lambda r: r["manifest"].update(run_dir=str(ledgered.run_dir)))
    checks = verify(path, runs_root=tmp_path / "runs")  # the run is not under this root
    assert failed(checks) == []
    assert {c.field for c in skipped(checks)} >= set(verify_files.RUN_FILES_FIELDS)


def test_pickled_final_model_is_never_unpickled(ledgered, exported, tmp_path):
    import torch

    folder = tmp_path / "runs" / ledgered.run_key
    shutil.copytree(ledgered.run_dir, folder)
    marker = tmp_path / "ran"
    (folder / "model" / "model.safetensors").unlink()
    torch.save(_Planted(str(marker)), folder / "model" / "pytorch_model.bin")
    checks = verify(exported[0], runs_root=tmp_path / "runs")
    bad = {c.field: c.detail for c in failed(checks)}
    assert "safetensors only" in bad["manifest.final_weights_sha256"]
    assert not marker.exists()


class _Planted:
    """Unpickling it would create a file: the stand-in for code run by a planted pickle."""

    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


@pytest.mark.parametrize("value", [2.0**53, 2.0**53 + 2, 2.0**60, 1e20, 9.999999999999999e20])
def test_integral_float_beyond_2_53_round_trips_and_verifies(exported, tmp_path, value):
    assert canonical(loads(canonical(value))) == canonical(value)
    path = tmp_path / "big.json"
    _forge(exported[0], path, lambda r: r["efficiency"].update(values_sum=value))
    text = canonical(value)
    assert b"." not in text and b"e" not in text and text in path.read_bytes()  # an integer
    assert failed(verify(path)) == []


def test_pdf_csv_or_missing_report_is_refused_in_one_line(ledgered, tmp_path, capsys):
    for path in (ledgered.report("csv", "r.csv"), tmp_path / "absent.json"):
        status, out, err = _verify_cli(ledgered, path, capsys, full=False)
        assert status == 2, (out, err)
        assert len(err.strip().splitlines()) == 1 and str(path) in err
