"""The HTML report: one self-contained file (plotly.js inline from the plotly package, no
network), every piece of user text escaped, the canonical JSON report embedded for machines.

Highlights: <mark> on the characters of the target and of each document that are covered by
shared n-grams (evidence ranges), computed on the raw text, escaped piece by piece.
"""

from __future__ import annotations

from html import escape

from provenance.canonical import canonical
from provenance.reports.charts import figures
from provenance.reports.manifest import summary_rows
from provenance.reports.wording import evidence_words

SNIPPET = 700  # characters of a document shown around its longest common span
EMBED_ID = "provenance-report"


def render_html(document: dict) -> bytes:
    """HTML of a report envelope (`build.envelope`)."""
    report = document["report"]
    target, run, method = report["target"], report["run"], report["method"]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>Provenance report: {escape(target['key'])}</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>Provenance report: target {escape(target['key'])}</h1>",
        f"<p class=hash>Report SHA-256: <code>{escape(document['sha256'])}</code></p>",
        "<h2>Target</h2>",
        _highlighted_target(report),
        _source_flag(target),
        "<h2>Model and run</h2>",
        _table(
            [
                ("run", run["key"]),
                ("kind", run["kind"]),
                ("status", run["status"]),
                ("parent run", run["parent"]),
                ("model", run["model"]),
                ("committed step", run["committed_step"]),
            ]
        ),
        "<h2>Method</h2>",
        _table([(k, v) for k, v in method.items() if k != "approximations"]),
        "<ul>" + "".join(f"<li>{escape(a)}</li>" for a in method["approximations"]) + "</ul>",
        "<h2>Efficiency check</h2>",
        _table(list(report["efficiency"].items())),
        "<h2>Top contributors</h2>",
        f"<p>{escape(method['ranked_by'])}</p>",
        _contributors(report["contributors"], target["text"]),
        "<h2>Harmful documents (raised the target's loss)</h2>",
        _contributors(report["harmful"], target["text"]) if report["harmful"] else "<p>None.</p>",
        "<h2>Rights holders</h2>",
        *(_rollup(field, rows) for field, rows in report["rollups"].items()),
        "<h2>Charts</h2>",
        *_charts(report),
        "<h2>Manifest</h2>",
        _manifest(report["manifest"]),
        "<h2>Evidence method</h2>",
        f"<pre>{escape(str(report['evidence_method']))}</pre>",
        f'<script type="application/json" id="{EMBED_ID}">{_embedded(document)}</script>',
        "</body></html>",
    ]
    return "\n".join(parts).encode("utf-8")


def embedded_report(page: bytes) -> bytes | None:
    """The JSON envelope embedded in a page written by `render_html` (None if there is none)."""
    text = page.decode("utf-8", errors="replace")
    start_tag = f'<script type="application/json" id="{EMBED_ID}">'
    start = text.find(start_tag)
    end = text.find("</script>", start)
    if start < 0 or end < 0:
        return None
    return text[start + len(start_tag) : end].encode("utf-8")


def _embedded(document: dict) -> str:
    # "<", ">" and "&" as JSON escapes: nothing in the report can close the script element.
    text = canonical(document).decode("utf-8")
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _mark(text: str, ranges) -> str:
    out, at = [], 0
    for start, end in sorted(ranges or []):
        if start < at or end <= start:  # overlapping or empty: nothing new to mark
            continue
        out.append(escape(text[at:start]))
        out.append(f"<mark>{escape(text[start:end])}</mark>")
        at = end
    out.append(escape(text[at:]))
    return "".join(out)


def _highlighted_target(report: dict) -> str:
    target = report["target"]
    top = next((r for r in report["contributors"] if r["evidence"]), None)
    ranges = top["evidence"]["ranges"]["target"] if top else []
    prompt = f"<p>Prompt: {escape(target['prompt'])}</p>" if target["prompt"] else ""
    return f"{prompt}<blockquote>{_mark(target['text'], ranges)}</blockquote>"


def _snippet(row: dict) -> str:
    text, evidence = row["text"], row["evidence"]
    ranges = evidence["ranges"]["document"] if evidence else []
    span = (evidence or {}).get("longest_span")
    centre = span["document"][0] if span else 0
    start = max(0, centre - SNIPPET // 3)
    end = min(len(text), start + SNIPPET)
    clipped = [
        [max(s, start) - start, min(e, end) - start] for s, e in ranges if e > start and s < end
    ]
    body = _mark(text[start:end], clipped)
    return ("…" if start else "") + body + ("…" if end < len(text) else "")


def _contributors(rows: list[dict], target_text: str) -> str:
    out = [
        "<table><tr><th>rank</th><th>document</th><th>specific</th><th>raw</th>"
        "<th>rank by value</th><th>rank by words</th>"
        "<th>share</th><th>evidence</th><th>text (shared n-grams marked)</th></tr>"
    ]
    for r in rows:
        if r["evidence"]:
            label, copied, scores = evidence_words(r["evidence"], target_text, "“”")
            evidence = f"<b>{escape(label)}</b><br>{escape(copied)}<br>{scores}"
        else:
            evidence = "not computed"
        meta = " · ".join(
            escape(str(r[f])) for f in ("title", "source", "author", "license") if r[f]
        )
        share = "" if r["share"] is None else f"{r['share']:.1%}"
        out.append(
            f"<tr><td>{r['rank']}</td><td><b>{escape(r['doc_key'])}</b><br>{meta}</td>"
            f"<td>{r['specific']:+.6g}</td><td>{r['raw']:+.6g}</td>"
            f"<td>{_or_blank(r['rank_by_value'])}</td><td>{_or_blank(r['rank_by_words'])}</td>"
            f"<td>{share}</td>"
            f"<td>{evidence}</td><td class=text>{_snippet(r)}</td></tr>"
        )
    out.append("</table>")
    return "".join(out)


def _or_blank(value: object) -> str:
    return "" if value is None else str(value)


def _rollup(field: str, rows: list[dict]) -> str:
    body = "".join(
        f"<tr><td>{escape(str(r[field]))}</td><td>{r['documents']}</td>"
        f"<td>{r['specific']:+.6g}</td><td>{r['raw']:+.6g}</td>"
        f"<td>{'' if r['share'] is None else format(r['share'], '.1%')}</td>"
        f"<td>{r['takedown_estimate']:+.6g}</td></tr>"
        for r in rows
    )
    return (
        f"<h3>By {escape(field)}</h3><table><tr><th>{escape(field)}</th><th>documents</th>"
        "<th>specific</th><th>raw</th><th>share</th><th>takedown estimate (nats)</th></tr>"
        f"{body}</table>"
    )


def _charts(report: dict) -> list[str]:
    out = []
    for i, (caption, figure) in enumerate(figures(report)):
        out.append(f"<h3>{escape(caption)}</h3>")
        out.append(figure.to_html(full_html=False, include_plotlyjs=(i == 0), div_id=f"chart-{i}"))
    return out


def _manifest(manifest: dict) -> str:
    corpus = manifest["corpus"]
    rows = summary_rows(manifest)
    files = "".join(
        f"<tr><td>{escape(p)}</td><td><code>{escape(h)}</code></td></tr>"
        for p, h in manifest["run_files"].items()
    )
    skipped = "".join(
        f"<li>{escape(str(s.get('location')))}: {escape(str(s.get('reason')))}</li>"
        for s in corpus["skipped_lines"]
    )
    docs = "".join(
        f"<tr><td>{escape(d['doc_key'])}</td><td><code>{d['sha256']}</code></td></tr>"
        for d in corpus["documents"]
    )
    return (
        _table(rows)
        + (f"<h3>Skipped input lines</h3><ul>{skipped}</ul>" if skipped else "")
        + (f"<h3>Run files</h3><table>{files}</table>" if files else "")
        + f"<details><summary>Per-document SHA-256</summary><table>{docs}</table></details>"
    )


def _table(rows) -> str:
    body = "".join(
        f"<tr><th>{escape(str(k))}</th><td>{escape('' if v is None else str(v))}</td></tr>"
        for k, v in rows
    )
    return f"<table class=kv>{body}</table>"


_STYLE = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222}
table{border-collapse:collapse;margin:.5em 0;font-size:.9em}
td,th{border:1px solid #ccc;padding:4px 6px;vertical-align:top;text-align:left}
td.text{max-width:420px;white-space:pre-wrap}
mark{background:#ffe08a}
blockquote{border-left:4px solid #2b7bba;padding-left:1em;white-space:pre-wrap}
code{font-size:.85em;word-break:break-all}
"""


def _source_flag(target: dict) -> str:
    """A warning that this target's source cannot be found in the run, or nothing."""
    flag = target.get("source_flag")
    return f"<p class=warning><strong>Warning:</strong> {escape(flag)}</p>" if flag else ""
