"""The HTML report: the blocks of `layout.py` (the PDF's structure: summary, contents, method,
findings, appendices) as one small self-contained page (no script but the embedded report, no
network), every piece of user text escaped, the canonical JSON report embedded for machines.

Highlights: <mark> on the characters of the target and of a document covered by shared
n-grams (evidence ranges), computed on the raw text, escaped piece by piece. The page holds no
date of its own: `verify` renders it again from its embedded JSON and compares the bytes.
"""

from __future__ import annotations

from html import escape

from provenance.canonical import canonical
from provenance.reports.layout import (
    Bullets,
    Heading,
    Marked,
    PageBreak,
    Paragraph,
    Table,
    layout,
)

EMBED_ID = "provenance-report"


def render_html(document: dict) -> bytes:
    """HTML of a report envelope (`build.envelope`)."""
    page = layout(document)
    sections = page.contents()
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{escape(page.title)}</title>",
        f"<style>{_STYLE}</style></head><body>",
    ]
    if page.banner:
        parts.append(f'<div class="banner">{escape(page.banner)}</div>')
    parts += [
        f"<h1>{escape(page.title)}</h1>",
        f'<p class="running">{escape(page.running)}</p>',
    ]
    contents_placed = False
    for block in page.blocks:
        if isinstance(block, PageBreak):
            if not contents_placed:  # after the summary, as in the PDF
                parts.append(_contents(sections))
                contents_placed = True
            parts.append('<hr class="page">')
        elif isinstance(block, Heading):
            tag = "h2" if block.level == 1 else "h3"
            anchor = f' id="s{sections.index(block.text)}"' if block.level == 1 else ""
            parts.append(f"<{tag}{anchor}>{escape(block.text)}</{tag}>")
        elif isinstance(block, Paragraph):
            cls = ' class="small"' if block.small else ""
            text = f"<strong>{escape(block.text)}</strong>" if block.strong else escape(block.text)
            parts.append(f"<p{cls}>{text}</p>")
        elif isinstance(block, Marked):
            caption = f'<p class="caption">{escape(block.caption)}</p>' if block.caption else ""
            parts.append(f"{caption}<blockquote>{_mark(block.text, block.ranges)}</blockquote>")
        elif isinstance(block, Bullets):
            parts.append("<ul>" + "".join(f"<li>{escape(i)}</li>" for i in block.items) + "</ul>")
        elif isinstance(block, Table):
            parts.append(_table(block))
    parts += [
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


def _contents(sections: list[str]) -> str:
    items = "".join(
        f'<li><a href="#s{i}">{escape(name)}</a></li>' for i, name in enumerate(sections)
    )
    return f'<nav><h2>Contents</h2><ol class="contents">{items}</ol></nav>'


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


def _table(block: Table) -> str:
    header = "".join(f"<th>{escape(h)}</th>" for h in block.header)
    if block.bars is not None:
        header += "<th>value</th>"
    rows = []
    for i, row in enumerate(block.rows):
        cells = "".join(f"<td>{escape(cell)}</td>" for cell in row)
        if block.bars is not None:
            bar = block.bars[i]
            side = "pos" if bar >= 0 else "neg"
            width = f"width:{abs(bar) * 100:.0f}%"
            cells += f'<td class="bar"><span class="{side}" style="{width}"></span></td>'
        rows.append(f"<tr>{cells}</tr>")
    cls = ' class="small"' if block.small else ""
    return f"<table{cls}><tr>{header}</tr>{''.join(rows)}</table>"


_STYLE = """
body{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;color:#222;line-height:1.4}
.banner{position:sticky;top:0;background:#fde8e8;color:#a00;border:2px solid #a00;
font-weight:bold;padding:.4em;text-align:center}
.running,.small,.caption{font-size:.8em;color:#555}
.running{word-break:break-all}
table{border-collapse:collapse;margin:.5em 0;font-size:.9em;width:100%}
table.small{font-size:.8em}
td,th{border:1px solid #ccc;padding:3px 5px;vertical-align:top;text-align:left;
word-break:break-word}
th{background:#eee}
td.bar{width:12%}
td.bar span{display:block;height:.8em}
span.pos{background:#2b7bba}
span.neg{background:#d9534f}
mark{background:#ffe08a}
blockquote{border-left:4px solid #2b7bba;margin:.5em 0;padding-left:1em;white-space:pre-wrap}
hr.page{border:0;border-top:1px dashed #bbb;margin:2em 0}
@media print{hr.page{break-after:page;border:0}}
"""
