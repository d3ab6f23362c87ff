"""The PDF report (fpdf2), for people: the blocks of `layout.py` (summary on page 1, the
contents on page 2, then method, findings and appendices), with the running line (output,
run, report SHA-256) and the page number on every page, and an unfinished run's PARTIAL
banner at the top of every page.

No browser and no image: bars are drawn as text, so a PDF takes well under a second to lay
out, on any machine. Text uses DejaVu Sans (Debian's fonts-dejavu-core), so any Unicode in
corpus or target text prints; without it the PDF falls back to a core font and replaces the
characters Latin-1 cannot hold with '?'.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from fpdf import FPDF
from fpdf.fonts import FontFace

from provenance.reports.layout import (
    Bullets,
    Heading,
    Layout,
    Marked,
    PageBreak,
    Paragraph,
    Table,
    layout,
)

FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu"))
BAR = 12  # characters of the longest bar
HIGHLIGHT = (176, 64, 0)  # shared words: bold, underlined, in this colour
BANNER = (190, 0, 0)

# Characters of the target (and of its prompt) a PDF prints. FPDF lays text out line by line:
# a 1 MB target took 46 s and a 20 MB one about 15 minutes, inside the UI server. Beyond this
# the PDF says how much it left out; the JSON and HTML reports hold the whole text.
MAX_PDF_TARGET_CHARS = 20_000


def render_pdf(document: dict) -> bytes:
    """The PDF of a report envelope (`build.envelope`)."""
    document = _clip_target(document)
    prepared = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    page = layout(document, prepared=prepared)
    pdf = _Pdf(page)
    pdf.add_page()
    pdf.set_font(pdf.base_font, style="B", size=16)
    pdf.multi_cell(0, 8, pdf.safe(page.title), new_x="LMARGIN", new_y="NEXT")
    contents_placed = False
    for block in page.blocks:
        if isinstance(block, PageBreak):
            pdf.add_page()
            if not contents_placed:  # page 2: the contents, filled in at the end
                pdf.insert_toc_placeholder(_contents, pages=1)
                contents_placed = True
        elif isinstance(block, Heading):
            pdf.heading(block)
        elif isinstance(block, Paragraph):
            pdf.paragraph(block)
        elif isinstance(block, Marked):
            pdf.marked(block)
        elif isinstance(block, Bullets):
            for item in block.items:
                pdf.paragraph(Paragraph(f"•  {item}", small=True), indent=4)
        elif isinstance(block, Table):
            pdf.grid(block)
    return bytes(pdf.output())


def _clip_target(document: dict) -> dict:
    target = document["report"]["target"]
    clipped = {k: _clipped(target[k]) for k in ("text", "prompt") if target[k]}
    if not clipped:
        return document
    report = {**document["report"], "target": {**target, **clipped}}
    return {**document, "report": report}


def _clipped(text: str) -> str:
    if len(text) <= MAX_PDF_TARGET_CHARS:
        return text
    return (
        f"{text[:MAX_PDF_TARGET_CHARS]}\n[... the PDF shows the first {MAX_PDF_TARGET_CHARS:,} "
        f"of {len(text):,} characters; the JSON and HTML reports hold the whole text]"
    )


def _contents(pdf: _Pdf, outline) -> None:
    pdf.set_font(pdf.base_font, style="B", size=13)
    pdf.cell(0, 8, "Contents", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(pdf.base_font, size=10)
    for section in outline:
        if section.level == 0:
            pdf.cell(150, 6, pdf.safe(section.name))
            pdf.cell(0, 6, f"page {section.page_number}", new_x="LMARGIN", new_y="NEXT")


class _Pdf(FPDF):
    def __init__(self, page: Layout):
        super().__init__(format="A4")
        self.report_layout = page
        self.set_auto_page_break(auto=True, margin=16)
        self.base_font = _font(self)
        self.set_title(page.title)
        self.set_creator("provenance")

    def header(self) -> None:
        banner = self.report_layout.banner
        if banner:
            self.set_font(self.base_font, style="B", size=10)
            self.set_text_color(*BANNER)
            self.multi_cell(0, 5, self.safe(banner), border=1, align="C")
            self.set_text_color(0, 0, 0)
            self.ln(2)

    def footer(self) -> None:
        self.set_y(-13)
        self.set_font(self.base_font, size=6.5)
        self.set_text_color(90, 90, 90)
        self.multi_cell(
            0, 3, self.safe(f"{self.report_layout.running} · page {self.page_no()}"), align="C"
        )
        self.set_text_color(0, 0, 0)

    def heading(self, block: Heading) -> None:
        size = 13 if block.level == 1 else 10.5
        if self.get_y() > self.page_break_trigger - 30:
            self.add_page()  # a heading never ends a page
        if block.level == 1:
            self.start_section(self.safe(block.text), level=0)
        self.set_font(self.base_font, style="B", size=size)
        self.ln(2)
        self.multi_cell(0, size * 0.5, self.safe(block.text), new_x="LMARGIN", new_y="NEXT")
        self.ln(1)

    def paragraph(self, block: Paragraph, indent: float = 0) -> None:
        size = 8 if block.small else 9.5
        self.set_font(self.base_font, style="B" if block.strong else "", size=size)
        self.set_x(self.l_margin + indent)
        self.multi_cell(0, size * 0.48, self.safe(block.text), new_x="LMARGIN", new_y="NEXT")
        self.ln(1)

    def marked(self, block: Marked) -> None:
        if block.caption:
            self.set_font(self.base_font, style="B", size=8)
            self.multi_cell(0, 4, self.safe(block.caption), new_x="LMARGIN", new_y="NEXT")
        height, at = 4.6, 0
        for start, end in sorted(block.ranges):
            if start < at or end <= start:
                continue
            self._write(block.text[at:start], height, highlight=False)
            self._write(block.text[start:end], height, highlight=True)
            at = end
        self._write(block.text[at:], height, highlight=False)
        self.ln(height + 2)

    def _write(self, text: str, height: float, highlight: bool) -> None:
        if not text:
            return
        self.set_font(self.base_font, style="BU" if highlight else "", size=9.5)
        self.set_text_color(*(HIGHLIGHT if highlight else (0, 0, 0)))
        self.write(height, self.safe(text))
        self.set_text_color(0, 0, 0)

    def grid(self, block: Table) -> None:
        size = 7.5 if block.small else 9
        header, rows, widths = block.header, block.rows, block.widths
        if block.bars is not None:
            header, widths = [*header, "value"], [*widths, 0.12]
            rows = [[*row, _bar(b)] for row, b in zip(rows, block.bars, strict=True)]
        self.set_font(self.base_font, size=size)
        total = sum(widths)
        with self.table(
            col_widths=[w / total for w in widths],
            line_height=size * 0.48,
            text_align="LEFT",
            headings_style=FontFace(emphasis="BOLD", fill_color=(230, 230, 230)),
            padding=1,
        ) as table:
            for row in [header, *rows]:
                line = table.row()
                for cell in row:
                    line.cell(self.safe(cell))
        self.ln(2)

    def safe(self, text: str) -> str:
        if self.base_font == "DejaVu":
            return text
        return text.encode("latin-1", errors="replace").decode("latin-1")


def _bar(fraction: float) -> str:
    """A bar of block characters as long as `fraction` (-1..1) of BAR; hollow when negative."""
    n = max(1, round(abs(fraction) * BAR)) if fraction else 0
    return ("█" if fraction > 0 else "░") * n


def _font(pdf: FPDF) -> str:
    for directory in FONT_DIRS:
        regular, bold = directory / "DejaVuSans.ttf", directory / "DejaVuSans-Bold.ttf"
        if regular.is_file() and bold.is_file():
            pdf.add_font("DejaVu", "", str(regular))
            pdf.add_font("DejaVu", "B", str(bold))
            return "DejaVu"
    return "helvetica"
