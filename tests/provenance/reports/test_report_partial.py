"""Reports of runs that are not finished, or have no values yet (issue 19 item 4): a partial
report says "PARTIAL: values up to step N of M" on every page; a target without values is
refused with the reason, never exported as an empty "Top contributors: None"."""

from __future__ import annotations

import copy
import dataclasses
import io
import json

import pytest
from pypdf import PdfReader

from db.session import session_scope
from provenance.reports.build import NoValuesError, require_values
from provenance.reports.export import render
from provenance.reports.report_input import read_report_input


@pytest.fixture(scope="module")
def document(ledgered):
    return json.loads(ledgered.report("json").read_bytes())


def test_an_unfinished_run_is_marked_partial_on_every_page(document):
    partial = copy.deepcopy(document)
    partial["report"]["run"].update(finished=False, status="running", committed_step=5)
    total = partial["report"]["run"]["total_steps"]
    banner = f"PARTIAL:valuesuptostep5of{total}"
    reader = PdfReader(io.BytesIO(render(partial, "pdf")))
    assert len(reader.pages) >= 2
    for page in reader.pages:
        assert banner in "".join(page.extract_text().split())
    html = render(partial, "html").decode("utf-8")
    assert '<div class="banner">PARTIAL: values up to step 5 of' in html
    finished = render(document, "html").decode("utf-8")
    assert document["report"]["run"]["finished"] and "PARTIAL" not in finished


def test_a_target_without_values_is_refused_with_the_reason(ledgered):
    with session_scope(ledgered.factory()) as session:
        data = read_report_input(session, ledgered.run_key, "copy", compute_evidence=False)
    require_values(data)  # the trained run has values
    empty = dataclasses.replace(data, top=data.top.iloc[:0], bottom=data.bottom.iloc[:0])
    with pytest.raises(NoValuesError, match="no attribution values for it yet"):
        require_values(empty)
