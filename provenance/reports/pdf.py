"""The PDF report (fpdf2), for people: the same sections as the HTML, the charts as static
PNG images rendered by kaleido through the system's Chromium (no network), and the report's
SHA-256 on every page.

kaleido needs a browser, and without one it waits forever. So the browser is looked up first
(`find_browser`, fast), drawing is bounded by `CHART_SECONDS`, and when either fails the PDF is
made without charts and says so on its first page and where the charts would be: the HTML
report, which draws them in the reader's browser, stays complete.

Text uses DejaVu Sans (Debian's fonts-dejavu-core), so any Unicode in corpus or target text
prints; without it the PDF falls back to a core font and replaces the characters Latin-1 cannot
hold with '?'.
"""

from __future__ import annotations

import io
import threading
import warnings
from pathlib import Path

from fpdf import FPDF

from provenance.reports.charts import figures
from provenance.reports.manifest import summary_rows
from provenance.reports.wording import evidence_words

FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu"))
SNIPPET = 500  # characters of a document printed around its longest common span
CHART_WIDTH, CHART_HEIGHT = 900, 420  # pixels of each chart image
# Six charts take 3-10 s with a warm Chromium on a loaded 2-core machine; a minute means stuck.
CHART_SECONDS = 60.0
NO_CHARTS = (
    "This PDF has no charts: {reason}. The HTML report of the same report has every chart; "
    "to draw them here, install Debian's chromium (`apt-get install -y chromium`)."
)


class ChartExportError(ValueError):
    """Charts could not be rendered to images; says what to install. A ValueError so that the
    CLI reports it as a fixable problem (an install, or --format html) rather than a crash."""


# Characters of the target (and of its prompt) a PDF prints. FPDF lays text out line by line:
# a 1 MB target took 46 s and a 20 MB one about 15 minutes, inside the UI server. Beyond this
# the PDF says how much it left out; the JSON and HTML reports hold the whole text.
MAX_PDF_TARGET_CHARS = 20_000


def _clipped(text: str) -> str:
    if len(text) <= MAX_PDF_TARGET_CHARS:
        return text
    return (
        f"{text[:MAX_PDF_TARGET_CHARS]}\n[... the PDF shows the first {MAX_PDF_TARGET_CHARS:,} "
        f"of {len(text):,} characters; the JSON and HTML reports hold the whole text]"
    )


def render_pdf(document: dict, *, charts: bool = True) -> bytes:
    """The PDF of a report envelope. With `charts`, the charts are drawn when a browser is
    found and draws them within CHART_SECONDS; otherwise the PDF is marked chart-less."""
    report = document["report"]
    images: list[tuple[str, bytes]] = []
    missing = None  # why the charts are not drawn, when they were asked for
    if charts:
        try:
            images = chart_images(report, timeout=CHART_SECONDS)
        except ChartExportError as error:
            missing = str(error)
    pdf = _Pdf(document["sha256"])
    pdf.add_page()
    pdf.heading(f"Provenance report: target {report['target']['key']}", 16)
    pdf.write_line(f"Report SHA-256: {document['sha256']}", size=8)
    if missing:
        pdf.write_line(NO_CHARTS.format(reason=missing), bold=True)
    pdf.heading("Target")
    if report["target"]["prompt"]:
        pdf.write_line(f"Prompt: {_clipped(report['target']['prompt'])}")
    pdf.write_line(_clipped(report["target"]["text"]))
    if report["target"].get("source_flag"):
        pdf.write_line(f"Warning: this target {report['target']['source_flag']}")
    pdf.heading("Model and run")
    for key, value in report["run"].items():
        pdf.write_line(f"{key}: {value}")
    pdf.heading("Method")
    for key, value in report["method"].items():
        if key != "approximations":
            pdf.write_line(f"{key}: {value}")
    for item in report["method"]["approximations"]:
        pdf.write_line(f"- {item}")
    pdf.heading("Efficiency check")
    for key, value in report["efficiency"].items():
        pdf.write_line(f"{key}: {value}")
    pdf.heading("Top contributors")
    pdf.write_line(report["method"]["ranked_by"], size=8)
    _documents(pdf, report["contributors"], report["target"]["text"])
    pdf.heading("Harmful documents (raised the target's loss)")
    _documents(pdf, report["harmful"], report["target"]["text"])
    pdf.heading("Rights holders")
    for field, rows in report["rollups"].items():
        pdf.write_line(f"By {field}: (specific, raw, share, takedown estimate in nats)", bold=True)
        for r in rows:
            share = "" if r["share"] is None else f"{r['share']:.1%}"
            pdf.write_line(
                f"{r[field]}: {r['documents']} documents, {r['specific']:+.6g}, {r['raw']:+.6g}, "
                f"{share}, takedown {r['takedown_estimate']:+.6g}"
            )
    if missing:
        pdf.heading("Charts")
        pdf.write_line(NO_CHARTS.format(reason=missing))
    elif images:
        pdf.heading("Charts")
        for caption, png in images:
            height = pdf.epw * CHART_HEIGHT / CHART_WIDTH
            if pdf.get_y() + height + 8 > pdf.page_break_trigger:
                pdf.add_page()  # keep a caption on the page of its chart
            pdf.write_line(caption, bold=True)
            pdf.image(io.BytesIO(png), w=pdf.epw, h=height)
    pdf.add_page()
    _manifest(pdf, report["manifest"])
    return bytes(pdf.output())


def find_browser() -> str | None:
    """The browser kaleido would start (choreographer's own lookup), or None: no browser."""
    from choreographer.browsers.chromium import Chromium

    return Chromium.find_browser(skip_local=False)


def chart_images(report: dict, *, timeout: float = CHART_SECONDS) -> list[tuple[str, bytes]]:
    """PNG bytes of every chart, through one kaleido browser session; ChartExportError when no
    browser is found or drawing takes more than `timeout` seconds (a browser that cannot start
    makes kaleido wait forever, so the drawing runs on a daemon thread that is left behind)."""
    shown = figures(report)
    if not shown:
        return []
    if find_browser() is None:
        raise ChartExportError("no Chromium or Chrome browser was found for kaleido")
    outcome: dict[str, object] = {}

    def draw() -> None:
        try:
            outcome["images"] = _draw(shown)
        except BaseException as error:  # handed to the caller's thread, never swallowed
            outcome["error"] = error

    worker = threading.Thread(target=draw, name="kaleido-charts", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise ChartExportError(f"the browser did not draw the charts within {timeout:g} s")
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["images"]  # type: ignore[return-value]


def _draw(shown: list) -> list[tuple[str, bytes]]:
    import kaleido

    try:
        kaleido.start_sync_server(silence_warnings=True)
    except Exception as error:  # kaleido raises its own types for a missing browser
        raise ChartExportError(
            f"kaleido could not start a browser to draw the charts ({error}); install Debian's "
            "chromium (`apt-get install -y chromium`) or export with --format html"
        ) from error
    try:
        with warnings.catch_warnings():
            # plotly warns that per-call browser options are unused with a running server.
            warnings.filterwarnings("ignore", message="The kopts argument is ignored")
            return [
                (c, f.to_image(format="png", width=CHART_WIDTH, height=CHART_HEIGHT))
                for c, f in shown
            ]
    finally:
        kaleido.stop_sync_server(silence_warnings=True)


def _documents(pdf: _Pdf, rows: list[dict], target_text: str) -> None:
    if not rows:
        pdf.write_line("None.")
    for r in rows:
        share = "" if r["share"] is None else f", share {r['share']:.1%}"
        if r["rank_by_words"] is not None:
            share += f"; rank by value {r['rank_by_value']}, by words {r['rank_by_words']}"
        pdf.write_line(
            f"#{r['rank']} {r['doc_key']}: specific {r['specific']:+.6g}, raw {r['raw']:+.6g}"
            f"{share}",
            bold=True,
        )
        meta = ", ".join(f"{f}: {r[f]}" for f in ("title", "source", "author", "license") if r[f])
        if meta:
            pdf.write_line(meta, size=8)
        ev = r["evidence"]
        if ev:
            pdf.write_line("; ".join(evidence_words(ev, target_text)), size=8)
        text = r["text"]
        centre = ev["longest_span"]["document"][0] if ev and ev["longest_span"] else 0
        start = max(0, centre - SNIPPET // 3)
        snippet = text[start : start + SNIPPET]
        pdf.write_line(
            ("..." if start else "") + snippet + ("..." if len(text) > start + SNIPPET else ""),
            size=8,
        )


def _manifest(pdf: _Pdf, manifest: dict) -> None:
    corpus = manifest["corpus"]
    pdf.heading("Manifest")
    for key, value in summary_rows(manifest):
        pdf.write_line(f"{key}: {value}", size=8)
    if corpus["skipped_lines"]:
        pdf.write_line("Skipped input lines", bold=True)
        for s in corpus["skipped_lines"]:
            pdf.write_line(f"{s.get('location')}: {s.get('reason')}", size=8)
    if manifest["run_files"]:
        pdf.write_line("Run files (SHA-256)", bold=True)
        for path, sha in manifest["run_files"].items():
            pdf.write_line(f"{sha}  {path}", size=7)
    pdf.write_line("Documents (SHA-256)", bold=True)
    for d in corpus["documents"]:
        pdf.write_line(f"{d['sha256']}  {d['doc_key']}", size=7)


class _Pdf(FPDF):
    def __init__(self, report_sha256: str):
        super().__init__(format="A4")
        self.report_sha256 = report_sha256
        self.set_auto_page_break(auto=True, margin=15)
        self.base_font = _font(self)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(self.base_font, size=7)
        self.cell(
            0, 5, self._safe(f"report SHA-256 {self.report_sha256}  ·  page {self.page_no()}")
        )

    def heading(self, text: str, size: int = 12) -> None:
        self.set_font(self.base_font, style="B", size=size)
        self.ln(2)
        self.multi_cell(0, size * 0.5, self._safe(text), new_x="LMARGIN", new_y="NEXT")
        self.ln(1)

    def write_line(self, text: str, size: int = 9, bold: bool = False) -> None:
        self.set_font(self.base_font, style="B" if bold else "", size=size)
        self.multi_cell(0, size * 0.45, self._safe(str(text)), new_x="LMARGIN", new_y="NEXT")

    def _safe(self, text: str) -> str:
        if self.base_font == "DejaVu":
            return text
        return text.encode("latin-1", errors="replace").decode("latin-1")


def _font(pdf: FPDF) -> str:
    for directory in FONT_DIRS:
        regular, bold = directory / "DejaVuSans.ttf", directory / "DejaVuSans-Bold.ttf"
        if regular.is_file() and bold.is_file():
            pdf.add_font("DejaVu", "", str(regular))
            pdf.add_font("DejaVu", "B", str(bold))
            return "DejaVu"
    return "helvetica"
