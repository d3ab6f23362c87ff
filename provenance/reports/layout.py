"""What a report says to a person, laid out once for the HTML and the PDF alike.

A forensic report's order, for a reader who is not an engineer: first a one-page summary (the
question, the answer with the leading sources and their evidence, how sure the answer is and
what it cannot say, the date and software, who can check it and how), then the method, then
the findings in detail, then appendices (the manifest's hashes, the evidence parameters).
Each renderer turns these blocks into its own markup; neither adds content, so the two agree.

Numbers are rounded for reading (4 significant digits, shares as percentages with one
decimal); the JSON report holds them exactly, and per-document hashes are only there.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from provenance.reports.wording import (
    VERIFY_EXITS,
    confidence,
    evidence_words,
    limitations,
    nats,
    percent,
    plain_answer,
)

LEADING = 3  # sources named in the summary
ROLLUP_ROWS = 10  # groups listed per roll-up; the JSON holds every one
SUMMARY_TARGET_CHARS = 1_200  # of the output quoted in the summary; section 3 has it all


@dataclass(frozen=True)
class Heading:
    text: str
    level: int = 1  # 1: a section, listed in the contents; 2: a subsection


@dataclass(frozen=True)
class Paragraph:
    text: str
    small: bool = False
    strong: bool = False


@dataclass(frozen=True)
class Marked:
    """A quoted text with character ranges [start, end) highlighted (shared with a source)."""

    text: str
    ranges: list[list[int]]
    caption: str = ""


@dataclass(frozen=True)
class Bullets:
    items: list[str]


@dataclass(frozen=True)
class Table:
    header: list[str]
    rows: list[list[str]]
    widths: list[float]  # relative column widths
    bars: list[float] | None = None  # one per row, -1..1: a bar drawn in the last column
    small: bool = False


@dataclass(frozen=True)
class PageBreak:
    pass


Block = Heading | Paragraph | Marked | Bullets | Table | PageBreak


@dataclass(frozen=True)
class Layout:
    title: str
    banner: str | None  # "PARTIAL: ..." on every page of an unfinished run's report
    running: str  # the line every page carries (target, run, report hash)
    blocks: list[Block] = field(default_factory=list)

    def contents(self) -> list[str]:
        return [b.text for b in self.blocks if isinstance(b, Heading) and b.level == 1]


def layout(document: dict, *, prepared: str | None = None) -> Layout:
    """The blocks of a report envelope. `prepared` is the date the file was made (the PDF
    prints it; the HTML must be re-rendered byte for byte from its JSON, so it has none)."""
    report = document["report"]
    run, target = report["run"], report["target"]
    banner = None
    if not run["finished"]:
        of = f" of {run['total_steps']}" if run["total_steps"] else ""
        banner = (
            f"PARTIAL: values up to step {run['committed_step']}{of}; the run is "
            f"{run['status']}, and its values change as training goes on"
        )
    blocks: list[Block] = []
    blocks += _summary(document, prepared)
    blocks += [PageBreak(), *_method(report)]
    blocks += _findings(report)
    blocks += _rollups(report)
    blocks += _efficiency(report)
    blocks += [PageBreak(), *_manifest(document), *_evidence_method(report)]
    return Layout(
        title=f"Provenance report: output {target['key']}",
        banner=banner,
        running=f"output {target['key']} · run {run['key']} · report SHA-256 {document['sha256']}",
        blocks=blocks,
    )


def _summary(document: dict, prepared: str | None) -> list[Block]:
    report = document["report"]
    run, target, manifest = report["run"], report["target"], report["manifest"]
    leading = report["contributors"][:LEADING]
    top = leading[0] if leading else None
    ranges = top["evidence"]["ranges"]["target"] if top and top["evidence"] else []
    text = target["text"]
    cut = len(text) > SUMMARY_TARGET_CHARS
    version = manifest["code_version"] or {}
    commit = (version.get("git_commit") or "")[:12]
    dates = f"Values as of step {run['committed_step']} of run {run['key']} (created "
    dates += f"{run['created'][:10]})."
    if prepared:
        dates = f"Prepared {prepared}. " + dates
    out: list[Block] = [
        Heading("1. Summary"),
        Paragraph(
            "The question: which training documents made the model write this output? "
            + (f"It was written after the prompt “{target['prompt']}”." if target["prompt"] else "")
        ),
        Marked(
            text[:SUMMARY_TARGET_CHARS] + ("…" if cut else ""),
            [[s, min(e, SUMMARY_TARGET_CHARS)] for s, e in ranges if s < SUMMARY_TARGET_CHARS],
            "The output (highlighted: words it shares with the leading source)",
        ),
    ]
    if target["source_flag"]:
        out.append(Paragraph(f"Warning: this output {target['source_flag']}.", strong=True))
    out.append(Paragraph("The answer: " + plain_answer(report), strong=True))
    if leading:
        out.append(
            Table(
                ["#", "leading source", "share of positive value", "evidence"],
                [
                    [
                        str(r["rank"]),
                        _document_name(r),
                        percent(r["share"]),
                        _evidence_cell(r["evidence"]),
                    ]
                    for r in leading
                ],
                [0.05, 0.4, 0.15, 0.4],
                small=True,
            )
        )
    out += [
        Paragraph("How sure: " + confidence(report)),
        Paragraph("What this report cannot say:"),
        Bullets(limitations(report)),
        Paragraph(
            f"{dates} Software: provenance {version.get('package') or 'unknown version'}"
            + (f" (commit {commit})" if commit else "")
            + "."
        ),
        Paragraph(
            "Who can check it, and how: anyone with the JSON report and read access to the "
            "ledger, with `provenance verify REPORT.json --db URL [--out DATA_DIR] "
            f"[--corpus FILE]`. {VERIFY_EXITS} This document shows the numbers of the JSON "
            f"report with SHA-256 {document['sha256']}; its manifest of hashes (corpus, "
            f"weights, run files) has SHA-256 {document['sections']['manifest']}.",
            small=True,
        ),
    ]
    return out


def _method(report: dict) -> list[Block]:
    method = report["method"]
    thresholds = report["evidence_method"]["thresholds"]
    return [
        Heading("2. Method"),
        Paragraph(
            "The model was trained (or its training replayed) while In-Run Data Shapley "
            "measured, at every training step, how much each document of that step lowered "
            "the model's loss on this output: the value of a document is the sum of these "
            f"effects over the steps it was trained in. Units: {method['units']}. "
            f"Values: {method['values']}."
        ),
        Paragraph(
            "A document that helps with any text (common words, grammar) would lead every "
            "list, so the ranking uses its specific value: its value toward this output minus "
            f"its value toward reference texts ({method['reference']['description']}). "
            f"{method['ranked_by']} A share is a document's specific value as a part of the "
            "sum of all positive specific values for this output; documents with a negative "
            "value (they made the output less likely) have no share."
        ),
        Paragraph(
            "Evidence beside the values says why a document may be credited: verbatim (a run "
            f"of at least {thresholds['verbatim_min_words']} words in both texts, or for a "
            f"short output at least {thresholds['verbatim_short_min_words']} words covering "
            f"half of it), close paraphrase (semantic similarity of at least "
            f"{thresholds['paraphrase_min_similarity']}), or diffuse (neither)."
        ),
        Paragraph("Approximations:"),
        Bullets(method["approximations"]),
        Paragraph(f"Reference: {method['citation']}.", small=True),
    ]


def _findings(report: dict) -> list[Block]:
    text = report["target"]["text"]
    rows = report["contributors"]
    biggest = max((abs(r["specific"]) for r in rows + report["harmful"]), default=0.0) or 1.0
    out: list[Block] = [
        Heading("3. Findings in detail"),
        Heading("The output", 2),
    ]
    if report["target"]["prompt"]:
        out.append(Paragraph(f"Prompt: {report['target']['prompt']}", small=True))
    top = rows[0] if rows and rows[0]["evidence"] else None
    out.append(Marked(text, top["evidence"]["ranges"]["target"] if top else []))
    out += [
        Heading(f"The {len(rows)} leading documents", 2),
        Paragraph(
            "Specific value in nats (positive = lowered the output's loss); share of the "
            "positive specific value in percent; ranks by training value and by word overlap.",
            small=True,
        ),
        _value_table(rows, biggest),
    ]
    for r in rows[:LEADING]:  # the others' shared words are in the JSON and HTML reports
        out += _excerpt(r, text)
    harmful = report["harmful"]
    out.append(Heading("Documents that made the output less likely", 2))
    if harmful:
        out += [
            Paragraph(
                "Negative specific values (nats): these documents raised the output's loss. "
                "They have no share of the positive value.",
                small=True,
            ),
            _value_table(harmful, biggest),
        ]
    else:
        out.append(Paragraph("None: no shown document has a negative specific value."))
    return out


def _value_table(rows: list[dict], biggest: float) -> Table:
    return Table(
        ["#", "document", "specific value (nats)", "share", "rank by value / words", "evidence"],
        [
            [
                str(r["rank"]),
                _document_name(r),
                nats(r["specific"]),
                percent(r["share"]),
                f"{_or_dash(r['rank_by_value'])} / {_or_dash(r['rank_by_words'])}",
                _evidence_cell(r["evidence"]),
            ]
            for r in rows
        ],
        [0.05, 0.37, 0.13, 0.09, 0.1, 0.26],
        bars=[r["specific"] / biggest for r in rows],
        small=True,
    )


def _excerpt(row: dict, target_text: str) -> list[Block]:
    evidence = row["evidence"]
    if not evidence or not evidence["longest_span"]:
        return []
    words = evidence_words(evidence, target_text)
    start, end = _window(row["text"], evidence["longest_span"]["document"][0])
    ranges = [
        [max(s, start) - start, min(e, end) - start]
        for s, e in evidence["ranges"]["document"]
        if e > start and s < end
    ]
    body = ("…" if start else "") + row["text"][start:end] + ("…" if end < len(row["text"]) else "")
    shift = 1 if start else 0
    return [
        Marked(
            body,
            [[s + shift, e + shift] for s, e in ranges],
            f"#{row['rank']} {row['doc_key']}: {words[0]}, {words[2]}",
        )
    ]


EXCERPT = 500  # characters of a document shown around the span it shares with the output


def _window(text: str, centre: int) -> tuple[int, int]:
    start = max(0, centre - EXCERPT // 3)
    return start, min(len(text), start + EXCERPT)


def _rollups(report: dict) -> list[Block]:
    efficiency = report["efficiency"]
    measured = efficiency["measured_drop"] if efficiency else None
    out: list[Block] = [
        Heading("4. Rights holders and licences"),
        Paragraph(
            "Documents grouped by their source, author and licence. Net specific value: the "
            "sum over the group (nats); share: of the output's positive specific value. "
            "Takedown estimate: how much of the measured drop of the output's loss "
            + (f"({nats(measured)} nats over the run) " if measured is not None else "")
            + "removing the group's documents would take away, to first order; it is the sum "
            "of their raw values, bounded by the measured drop."
        ),
    ]
    capped = False
    for name, rows in report["rollups"].items():
        shown = rows[:ROLLUP_ROWS]
        capped |= any(r["takedown"]["exceeds_measured_drop"] for r in shown)
        out += [
            Heading(f"By {name}", 2),
            Table(
                [name, "documents", "net specific value (nats)", "share", "takedown (nats)"],
                [
                    [
                        str(r[name]),
                        str(r["documents"]),
                        nats(r["specific"]),
                        percent(r["share"]),
                        _takedown(r["takedown"]),
                    ]
                    for r in shown
                ],
                [0.42, 0.1, 0.16, 0.1, 0.22],
                small=True,
            ),
        ]
        if len(rows) > len(shown):
            out.append(
                Paragraph(f"{len(rows) - len(shown)} more groups in the JSON report.", small=True)
            )
    if capped:
        out.append(
            Paragraph(
                "* The first-order sum of the group's values exceeds the measured drop, so the "
                "estimate shown is the drop itself, an upper bound: first-order values add each "
                "step's effect as if the documents acted alone, and under AdamW credit each "
                "gradient in full at the step it entered, so their sum can exceed what "
                "training achieved. Only retraining without the group would measure it.",
                small=True,
            )
        )
    return out


def _takedown(takedown: dict) -> str:
    if takedown["exceeds_measured_drop"]:
        return (
            f"at most {nats(takedown['estimate'])}* (first order {nats(takedown['first_order'])})"
        )
    return nats(takedown["estimate"])


def _efficiency(report: dict) -> list[Block]:
    check = report["efficiency"]
    out: list[Block] = [Heading("5. Efficiency check")]
    if check is None:
        return [*out, Paragraph("Not available: fewer than two training steps are stored.")]
    rows = [["documents' values (what the ranking credits)", nats(check["values_sum"])]]
    if check["decay_drop"] is not None:
        rows += [
            ["+ optimizer's other terms (momentum)", nats(check["optimizer_terms"])],
            ["+ weight decay (credited to no document)", nats(check["decay_drop"])],
        ]
    rows += [
        ["= first-order prediction from the update applied", nats(check["predicted_drop"])],
        ["+ higher-order terms", nats(check["higher_order"])],
        ["= measured drop of the output's loss", nats(check["measured_drop"])],
    ]
    return [
        *out,
        Paragraph(f"Verdict: {check['verdict']}", strong=True),
        Table(["term, over " + f"{check['steps']} steps", "nats"], rows, [0.75, 0.25], small=True),
    ]


def _manifest(document: dict) -> list[Block]:
    manifest = document["report"]["manifest"]
    corpus, replay = manifest["corpus"], manifest["replay"]
    verified = {True: "yes, same final weights", False: "NO", None: "not a replay"}
    rows = [
        ["report SHA-256 (of the JSON report)", document["sha256"]],
        ["manifest SHA-256", document["sections"]["manifest"]],
        ["corpus SHA-256 (combined document hashes)", corpus["sha256"]],
        ["corpus file SHA-256", corpus["file_sha256"] or "not read"],
        ["corpus documents", f"{len(corpus['documents']):,}"],
        ["skipped input lines", str(len(corpus["skipped_lines"]))],
        ["tokenizer SHA-256", manifest["tokenizer_sha256"] or "-"],
        ["initial weights SHA-256", manifest["initial_weights_sha256"] or "-"],
        ["final weights SHA-256", manifest["final_weights_sha256"] or "-"],
        ["replay of run", replay["parent_run_key"] or "-"],
        ["replay reproduces the run", verified[replay["verified_same_model"]]],
        ["seed", str(manifest["seed"])],
        ["model", manifest["model"]],
    ]
    config = ", ".join(f"{k} = {v}" for k, v in manifest["config"].items())
    packages = ", ".join(f"{k} {v}" for k, v in manifest["packages"].items() if v)
    out: list[Block] = [
        Heading("Appendix A. Manifest"),
        Paragraph(
            "The hashes a third party needs to check the run. Each document's own SHA-256 is "
            "in the JSON report (manifest.corpus.documents); their combined hash is the corpus "
            "SHA-256 below.",
            small=True,
        ),
        Table(["item", "value"], rows, [0.35, 0.65], small=True),
        Paragraph(f"Training settings: {config}.", small=True),
        Paragraph(f"Software: {packages}.", small=True),
    ]
    if corpus["skipped_lines"]:
        out += [
            Heading("Skipped input lines", 2),
            Bullets([f"{s.get('location')}: {s.get('reason')}" for s in corpus["skipped_lines"]]),
        ]
    if manifest["run_files"]:
        out += [
            Heading("Run files (SHA-256)", 2),
            Table(
                ["file", "SHA-256"],
                [[p, h] for p, h in manifest["run_files"].items()],
                [0.35, 0.65],
                small=True,
            ),
        ]
    return out


def _evidence_method(report: dict) -> list[Block]:
    method = report["evidence_method"]
    thresholds = ", ".join(f"{k} = {v}" for k, v in method["thresholds"].items())
    return [
        Heading("Appendix B. Evidence parameters"),
        Bullets(
            [
                f"Thresholds: {thresholds}.",
                f"Sentence embedding: {method['embedding_model']}.",
                f"Keyword relevance: {method['bm25']}, over {method['bm25_collection']}.",
                f"Text normalisation: {method['normalisation']}.",
                *(f"{name}: {rule}." for name, rule in method["labels"].items()),
            ]
        ),
    ]


def _document_name(row: dict) -> str:
    title = f"“{row['title']}”, " if row["title"] else ""
    who = ", ".join(str(row[f]) for f in ("source", "license") if row[f])
    return f"{title}{row['doc_key']}" + (f" ({who})" if who else "")


def _evidence_cell(evidence: dict | None) -> str:
    if not evidence:
        return "not computed"
    span = evidence["longest_span"]
    words = (
        f"{span['words']} word{'s' if span['words'] != 1 else ''} in a row"
        if span
        else "no common word"
    )
    return f"{evidence['label']}: {words}, similarity {evidence['similarity']:.2f}"


def _or_dash(value: object) -> str:
    return "-" if value is None else str(value)
