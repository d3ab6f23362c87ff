"""Static guards over the source (AST scans): no SQL built from formatted strings, and no way
for user text to reach the browser unescaped. Each scan lists every offence as file:line.

Allow-lists are explicit, with the reason beside each entry: a new offence fails until it is
fixed or reviewed and listed here.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("attribution_engine", "db", "app")
# Calls that send their first argument to the database as SQL.
SQL_CALLS = {"execute", "exec_driver_sql", "executemany", "executescript", "text", "sql_text"}
# Streamlit elements that render Markdown: an f-string in them is reviewed (MARKDOWN_REVIEWED).
MARKDOWN_CALLS = {
    "markdown",
    "write",
    "caption",
    "title",
    "header",
    "subheader",
    "info",
    "warning",
    "error",
    "success",
    "toast",
}
# (file, interpolated expression): values that are never user-supplied text. Streamlit's
# Markdown never renders raw HTML without unsafe_allow_html (refused below), so even these
# could only add Markdown emphasis; user text goes through ui.show_text (st.code) or tables.
MARKDOWN_REVIEWED = {
    ("app/data.py", "err"),  # SchemaOutOfDate: revisions, from our own code
    ("app/ui.py", "run.status"),  # a RunStatus value of the ledger (interrupted, failed)
    ("app/data.py", "safe_url(url)"),  # the server's ledger URL, password masked
    ("app/data.py", "type(err).__name__"),
    ("app/jobs_view.py", "int(job_id)"),  # the job's message itself goes through show_text
    ("app/report_download.py", "VERIFY_WORDS"),  # a constant
    ("app/report_download.py", "digest"),  # hex SHA-256
    ("app/report_download.py", "latest"),  # an integer step
    ("app/report_download.py", "shown"),  # an integer step
    ("app/report_download.py", "name"),  # a report format name
    ("app/views/attribution.py", "by"),  # a radio choice
    ("app/views/attribution.py", "ranking_words.RANKED_BY[by]"),  # fixed words of a radio choice
    ("app/views/attribution.py", "check.steps"),  # an integer
    ("app/views/attribution.py", "describe(recipe.reference)"),  # a count and fixed words
    ("app/views/attribution.py", "len(todo)"),
    ("app/views/attribution.py", "labels.origin_words(targets, target_key)"),  # fixed words
    ("app/views/downloads.py", "by"),  # a radio choice
    ("app/views/downloads.py", "field"),  # a radio choice
    ("app/views/health.py", "by"),  # a radio choice
    ("app/views/runs.py", "job"),  # an integer job id
    ("app/views/runs.py", "saved.name"),  # upload-<sha256>.jsonl, never the user's file name
    ("app/views/runs.py", "len(failed)"),
    ("app/views/runs.py", "pending.replay_estimate(out, parent, n_targets)"),  # numbers, units
    ("app/views/runs.py", "TINY_MODEL"),  # a constant
    # Run ids (letters, digits, '.', '_', '-') and counts, in fixed words.
    ("app/views/runs.py", "pending.queue_preview(data.open_jobs(url, 'attribute'), replay)"),
    ("app/views/targets.py", "pending.queue_preview(data.open_jobs(url, 'attribute'), replay)"),
    ("app/views/targets.py", "MAX_UPLOAD_BYTES // 2 ** 20"),
    ("app/views/targets.py", "job"),  # an integer job id
    ("app/views/targets.py", "len(chosen)"),
    ("app/views/targets.py", "len(targets)"),
    ("app/views/targets.py", "out"),  # the server's data directory
    ("app/views/targets.py", "path.name"),  # <sha256>.jsonl, never the user's file name
    ("app/views/targets.py", "pending.replay_estimate(out, parent, len(chosen))"),
    # Documents and the run banners: ids escaped by escape_markdown, the rest numbers or
    # fixed words.
    ("app/document_view.py", "corpus_id"),  # an integer
    ("app/document_view.py", "ui.escape_markdown(doc_key)"),
    ("app/document_view.py", "ui.escape_markdown(run.kind)"),
    ("app/document_view.py", "ui.escape_markdown(run.run_key)"),
    ("app/ui.py", "escape_markdown(run_key)"),
    ("app/ui.py", "key"),  # run_banner: the run id through escape_markdown
    ("app/ui.py", "of"),  # " of <int>" or ""
    ("app/ui.py", "step"),  # an integer
    ("app/ui.py", "len(frame)"),  # ui.paged: row numbers
    ("app/ui.py", "start + 1"),
    ("app/ui.py", "min(start + rows, len(frame))"),
    ("app/views/attribution.py", "ui.escape_markdown(doc_key)"),
    ("app/views/attribution.py", "ui.escape_markdown(run_key)"),
    ("app/views/documents.py", "FIELD_WORDS[field]"),  # fixed words of a select box
    ("app/views/documents.py", "data.totals(url).documents"),  # counts
    ("app/views/documents.py", "found.total"),
    ("app/views/documents.py", "first"),
    ("app/views/documents.py", "last"),
    ("app/views/documents.py", "matches"),  # "document matches" / "documents match"
    ("app/views/documents.py", "ui.escape_markdown(corpus_param)"),
}
# (file, function): the only places that may send HTML to the browser, each escaping every
# user character itself (and fuzzed in test_hostile_input.py).
RAW_HTML_HELPERS = {("app/highlight.py", "show_highlighted")}
# (file, line text): SQL strings with an interpolation, reviewed. None today: keep it so.
SQL_REVIEWED: set[tuple[str, str]] = set()


def _modules():
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            text = path.read_text()
            yield path.relative_to(ROOT).as_posix(), ast.parse(text, str(path)), text.splitlines()


def _name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else None


def _formatted(node: ast.expr, tainted: set[str]) -> bool:
    """An f-string with a placeholder, str.format, % or + on strings, or a name bound to one."""
    return bool(_interpolated(node, tainted))


def _interpolated(node: ast.expr, tainted: set[str]) -> list[ast.expr]:
    """The expressions formatted into the string `node` builds (empty: a plain string)."""
    if isinstance(node, ast.JoinedStr):
        return [v.value for v in node.values if isinstance(v, ast.FormattedValue)]
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        if node.func.attr == "format":
            return [*node.args, *(k.value for k in node.keywords)] or [node]
        return []
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod | ast.Add):
        sides = (node.left, node.right)
        if not any(_is_string(side, tainted) for side in sides):
            return []
        found = []
        for side in sides:
            if _is_string(side, tainted):
                found += _interpolated(side, tainted)
            elif not isinstance(side, ast.Constant):
                found.append(side)
        return found
    if isinstance(node, ast.Name) and node.id in tainted:
        return [node]
    return []


def _is_string(node: ast.expr, tainted: set[str]) -> bool:
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    return isinstance(node, ast.JoinedStr) or bool(_interpolated(node, tainted))


def _tainted_names(tree: ast.AST) -> set[str]:
    """Names assigned a formatted string anywhere in the module (one level of indirection)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and _formatted(node.value, set()):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    return names


def _sql_offences(tree: ast.AST) -> list[ast.Call]:
    tainted = _tainted_names(tree)
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and _name(node.func) in SQL_CALLS and node.args
        if _formatted(node.args[0], tainted)
    ]


def test_no_sql_is_built_from_formatted_strings():
    offences, reviewed = [], set()
    for where, tree, lines in _modules():
        for node in _sql_offences(tree):
            line = lines[node.args[0].lineno - 1].strip()
            if (where, line) in SQL_REVIEWED:
                reviewed.add((where, line))
            else:
                offences.append(f"{where}:{node.lineno}: {ast.unparse(node)[:100]}")
    assert offences == [], "SQL from formatted strings (use bind parameters):\n" + "\n".join(
        offences
    )
    assert reviewed == SQL_REVIEWED, "stale SQL_REVIEWED entries: remove them"


def test_the_sql_scanner_catches_each_form():
    """The scan itself: every formatted form is caught, plain and bound SQL are not."""
    code = """
session.execute(text(f"SELECT * FROM t WHERE id = {x}"))
conn.exec_driver_sql("DELETE FROM t WHERE id = %s" % x)
conn.execute(text("SELECT {}".format(x)))
query = "SELECT * FROM " + table
session.execute(text(query))
session.execute(text("SELECT * FROM t WHERE id = :id"), {"id": x})
session.execute(select(T).where(T.id == x))
cursor.executemany("INSERT INTO t VALUES (?, ?)", rows)
"""
    assert sorted({node.lineno for node in _sql_offences(ast.parse(code))}) == [2, 3, 4, 6]


def test_raw_html_only_in_the_escaping_helper():
    """unsafe_allow_html, st.html and components.html only in RAW_HTML_HELPERS."""
    offences, used = [], set()
    for where, tree, _ in _modules():
        for function in [tree, *(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef))]:
            owner = getattr(function, "name", "<module>")
            body = (
                function.body
                if owner != "<module>"
                else [n for n in tree.body if not isinstance(n, ast.FunctionDef | ast.ClassDef)]
            )
            for node in (n for stmt in body for n in ast.walk(stmt)):
                if not isinstance(node, ast.Call):
                    continue
                unsafe = any(
                    k.arg == "unsafe_allow_html"
                    and not (isinstance(k.value, ast.Constant) and k.value.value is False)
                    for k in node.keywords
                )
                raw = ast.unparse(node.func) in {
                    "st.html",
                    "components.html",
                    "st.components.v1.html",
                    "components.v1.html",
                }
                if unsafe or raw:
                    if (where, owner) in RAW_HTML_HELPERS:
                        used.add((where, owner))
                    else:
                        offences.append(f"{where}:{node.lineno}: {ast.unparse(node)[:80]}")
    assert offences == [], "raw HTML outside the escaping helper:\n" + "\n".join(offences)
    assert used == RAW_HTML_HELPERS, "stale RAW_HTML_HELPERS entries: remove them"


def test_markdown_elements_interpolate_only_reviewed_values():
    found = set()
    for where, tree, _ in _modules():
        if not where.startswith("app/"):
            continue
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and ast.unparse(node.func.value) == "st"
                and node.func.attr in MARKDOWN_CALLS
                and node.args
            ):
                found |= {(where, ast.unparse(e)) for e in _interpolated(node.args[0], set())}
    new = sorted(found - MARKDOWN_REVIEWED)
    assert new == [], (
        "Markdown elements with interpolated values: show user text with ui.show_text, or "
        f"review the value and add it to MARKDOWN_REVIEWED: {new}"
    )


# (file, argument): Markdown elements shown a value that is not a string literal or f-string,
# reviewed. Everything else (st.error(str(err)), st.warning(message)) would render user text
# (a file name, an id, a path) as Markdown links and images: use ui.error, which escapes it.
MARKDOWN_VALUES_REVIEWED = {
    ("app/ui.py", "escape_markdown(str(err))"),  # ui.error: the escaping helper itself
    ("app/ui.py", "title"),  # ui.page: each page's fixed title
    ("app/ui.py", "empty"),  # ui.table and runs_with_targets: each page's fixed wording
    ("app/views/attribution.py", "ui.VALUE_WORDS"),  # constants of our own wording
    ("app/views/attribution.py", "ranking.FUSED_WORDS"),
    ("app/views/attribution.py", "evidence_view.WORDS"),
    ("app/views/attribution.py", "highlight.LEGEND"),
    ("app/views/attribution.py", "efficiency.verdict(check)"),  # numbers and fixed words
    ("app/views/attribution.py", "labels.NO_SHARE_WORDS"),  # constants of our own wording
    ("app/views/sources.py", "rollups.NET_SHARE_WORDS"),
    ("app/views/health.py", "health.CAVEAT"),
    (
        "app/views/health.py",
        "health.threshold_words(min_targets, targets, min_harm, by)",
    ),  # numbers
    ("app/views/overview.py", "step.words"),  # provenance.next_step: fixed words and counts
}


def _bare_markdown_values(tree: ast.AST) -> list[ast.Call]:
    """Markdown element calls whose text is a value other than a literal or an f-string."""
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and ast.unparse(node.func.value) in {"st", "left", "right", "column", "col"}
        and node.func.attr in MARKDOWN_CALLS
        and node.args
        and not _is_string(node.args[0], set())
    ]


def test_markdown_elements_never_show_a_bare_value():
    """Issue 18 item 8: `st.error(str(err))` rendered a message's `![x](http://...)` as an
    image; every error with user text goes through ui.error (escaped)."""
    found, offences = set(), []
    for where, tree, _ in _modules():
        if not where.startswith("app/"):
            continue
        for node in _bare_markdown_values(tree):
            key = (where, ast.unparse(node.args[0]))
            if key in MARKDOWN_VALUES_REVIEWED:
                found.add(key)
            else:
                offences.append(f"{where}:{node.lineno}: {ast.unparse(node)[:100]}")
    assert offences == [], "Markdown shown a bare value (use ui.error):\n" + "\n".join(offences)
    assert found == MARKDOWN_VALUES_REVIEWED, "stale MARKDOWN_VALUES_REVIEWED entries"


def test_the_markdown_value_scanner_catches_each_form():
    code = """
st.error(str(err))
st.warning(message)
st.info(err.args[0])
st.error("fixed words")
st.error(f"Job {job_id} failed")
ui.error(err)
"""
    assert [n.lineno for n in _bare_markdown_values(ast.parse(code))] == [2, 3, 4]


def test_ui_error_escapes_markdown():
    from app.ui import escape_markdown

    shown = escape_markdown("bad ![x](http://evil.example/a.png) [link](javascript:x) **b**\nz")
    assert "![" not in shown and "](" not in shown and "**" not in shown and "\n" not in shown
    assert len(escape_markdown("k" * 10_000_000)) < 600  # one line, never megabytes
