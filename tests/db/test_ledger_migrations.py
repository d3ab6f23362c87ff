"""Upgrading a populated ledger keeps every row: a database filled at the first revision (with
that revision's own tables, through plain SQL) is upgraded to head and compared row by row,
with the ranks the new schema stores checked against a sort in Python."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest
from alembic import command
from sqlalchemy import text

from db.jobs import claim, job_status
from db.models import RANK_INDEXED
from db.rankings import document_contributions, top_documents
from db.schema import alembic_config, check_schema, upgrade
from db.session import make_sessionmaker, session_scope

N_DOCUMENTS = 2 * RANK_INDEXED + 500  # some rows outside both tails
NOW = dt.datetime(2026, 11, 28, tzinfo=dt.UTC)


def _fill_first_revision(engine) -> dict[str, pd.DataFrame]:
    """Rows in every table of revision 0001; returns the old value rows and jobs."""
    rng = np.random.default_rng(7)
    raw = np.round(rng.standard_normal((2, N_DOCUMENTS)), 1)  # rounded: many ties
    specific = rng.standard_normal((2, N_DOCUMENTS))
    with engine.begin() as c:
        c.execute(
            text(
                "INSERT INTO corpora (id, sha256, path, n_documents) VALUES (1, :h, 'c.jsonl', :n)"
            ),
            {"h": "c" * 64, "n": N_DOCUMENTS},
        )
        c.execute(
            text(
                "INSERT INTO documents (id, corpus_id, doc_key, text, sha256, source) "
                "VALUES (:id, 1, :key, :text, :h, :source)"
            ),
            [
                {
                    "id": i + 1,
                    "key": f"d{i:05d}",
                    "text": f"text {i}",
                    "h": f"{i:064x}",
                    "source": ["a", "b", None][i % 3],
                }
                for i in range(N_DOCUMENTS)
            ],
        )
        c.execute(
            text(
                "INSERT INTO runs (id, run_key, kind, corpus_id, recipe, status, committed_step) "
                "VALUES (1, 'r1', 'train', 1, '{}', 'done', 9)"
            )
        )
        c.execute(
            text(
                "INSERT INTO targets (id, run_id, target_key, text, origin, raw_positive_total, "
                "specific_positive_total) VALUES (:id, 1, :key, 'x', 'uploaded', :rp, :sp)"
            ),
            [
                {
                    "id": t + 1,
                    "key": f"t{t + 1}",
                    "rp": float(raw[t][raw[t] > 0].sum()),
                    "sp": float(specific[t][specific[t] > 0].sum()),
                }
                for t in range(2)
            ],
        )
        values = [
            {"t": t + 1, "d": i + 1, "raw": float(raw[t, i]), "spec": float(specific[t, i])}
            for t in range(2)
            for i in range(N_DOCUMENTS)
        ]
        c.execute(
            text(
                "INSERT INTO document_values (run_id, target_id, document_id, raw, specific) "
                "VALUES (1, :t, :d, :raw, :spec)"
            ),
            values,
        )
        c.execute(
            text(
                "INSERT INTO jobs (id, kind, status, payload, progress, created, updated) "
                "VALUES (:id, :kind, 'queued', :payload, 0, :now, :now)"
            ),
            [
                {"id": i, "kind": kind, "payload": json.dumps(payload), "now": NOW}
                for i, kind, payload in (
                    (1, "attribute", {"run_key": "r1"}),
                    (2, "attribute", {"run_key": "r1"}),
                    (3, "train", {"corpus": "c"}),
                )
            ],
        )
    return pd.DataFrame(values).sort_values(["t", "d"], ignore_index=True)


def _counts(engine, tables) -> dict[str, int]:
    with engine.connect() as c:
        return {t: c.execute(text("SELECT count(*) FROM " + t)).scalar_one() for t in tables}


def _python_ranks(frame: pd.DataFrame, column: str) -> dict[tuple[int, int], int]:
    """Rank 1 = highest value; ties by document id, higher id first."""
    ranks = {}
    for t, group in frame.groupby("t"):
        ordered = sorted(zip(group[column], group["d"], strict=True), reverse=True)
        ranks.update({(t, d): r + 1 for r, (_, d) in enumerate(ordered)})
    return ranks


def test_upgrade_from_the_first_revision_keeps_every_row(empty_engine):
    upgrade(empty_engine, "0001")
    old = _fill_first_revision(empty_engine)
    kept = ["corpora", "documents", "runs", "targets", "document_values", "jobs"]
    before = _counts(empty_engine, kept)

    upgrade(empty_engine)
    check_schema(empty_engine)
    assert _counts(empty_engine, kept) == before

    with empty_engine.connect() as c:
        new = pd.DataFrame(
            c.execute(
                text(
                    "SELECT target_id AS t, document_id AS d, raw, specific AS spec, rank_raw, "
                    "rank_specific, tail, id FROM document_values ORDER BY target_id, document_id"
                )
            ).all()
        )
    pd.testing.assert_frame_equal(new[["t", "d", "raw", "spec"]], old, check_dtype=False)
    assert (new["id"] == new["t"] * 2**32 + new["d"]).all()
    want_raw, want_spec = _python_ranks(old, "raw"), _python_ranks(old, "spec")
    keys = list(zip(new["t"], new["d"], strict=True))
    assert new["rank_raw"].tolist() == [want_raw[k] for k in keys]
    assert new["rank_specific"].tolist() == [want_spec[k] for k in keys]
    n = N_DOCUMENTS

    def in_tail(rank):
        return rank <= RANK_INDEXED or rank > n - RANK_INDEXED

    assert new["tail"].astype(bool).tolist() == [
        in_tail(want_raw[k]) or in_tail(want_spec[k]) for k in keys
    ]

    # The reads work on the upgraded rows: top and bottom 5 by a sort in Python.
    with session_scope(make_sessionmaker(empty_engine)) as session:
        for ascending in (False, True):
            top = top_documents(session, "r1", "t1", 5, by="raw", ascending=ascending)
            ordered = sorted(want_raw.items(), key=lambda kv: kv[1], reverse=ascending)
            expected = [f"d{d - 1:05d}" for (t, d), _ in ordered if t == 1][:5]
            assert top["doc_key"].tolist() == expected
        one = document_contributions(session, "r1", "d00010")
        assert one["rank_specific"].tolist() == [want_spec[(1, 11)], want_spec[(2, 11)]]
        assert [job_status(session, i).run_key for i in (1, 2, 3)] == ["r1", "r1", None]

    # One running job per run still holds on the copied column.
    write = make_sessionmaker(empty_engine, write=True)
    first = claim(write, "w1", 60, now=lambda: NOW)
    second = claim(write, "w2", 60, now=lambda: NOW)
    assert (first.id, second.id) == (1, 3)
    assert claim(write, "w3", 60, now=lambda: NOW) is None


@pytest.mark.parametrize("revision", ["0001"])
def test_downgrade_keeps_the_values(empty_engine, revision):
    upgrade(empty_engine, revision)
    old = _fill_first_revision(empty_engine)
    upgrade(empty_engine)
    config = alembic_config()
    with empty_engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)
    with empty_engine.connect() as c:
        back = pd.DataFrame(
            c.execute(
                text(
                    "SELECT target_id AS t, document_id AS d, raw, specific AS spec "
                    "FROM document_values WHERE run_id = 1 ORDER BY target_id, document_id"
                )
            ).all()
        )
    pd.testing.assert_frame_equal(back, old, check_dtype=False)
