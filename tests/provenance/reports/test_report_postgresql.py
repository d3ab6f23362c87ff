"""On PostgreSQL too: the same ledger exports byte-identical JSON and verify passes against it."""

from report_fixtures import train_run

from provenance.reports import failed, verify


def test_postgresql_ledger_exports_identically_and_verifies(fresh_pg_url, tmp_path):
    run = train_run(tmp_path, fresh_pg_url)
    first, second = run.report("json", "a.json"), run.report("json", "b.json")
    assert first.read_bytes() == second.read_bytes()
    checks = verify(first, factory=run.factory(), corpus=run.corpus)
    assert failed(checks) == [], [str(c) for c in failed(checks)]
    args = ["verify", str(first), "--db", fresh_pg_url, "--corpus", str(run.corpus)]
    assert run.cli(*args, "--out", str(run.out)) == 0
