"""Sentences and number formats the reports for people (HTML, PDF) print alike, from the
report's plain data (`build.build_report`)."""

from __future__ import annotations

VERIFY_EXITS = (
    "It exits 0 when every hash and number matched the ledger, 3 when the report is only "
    "self-consistent or a check could not be done there (it names which), 1 when a check "
    "failed (it names the field)."
)


def nats(value: float | None) -> str:
    """A value in nats to 4 significant digits, signed ("-" when absent)."""
    return "-" if value is None else f"{value:+.4g}"


def percent(share: float | None) -> str:
    """A share (0..1) in percent with one decimal ("-": no share, e.g. a negative value)."""
    return "-" if share is None else f"{share:.1%}"


def evidence_words(evidence: dict, target_text: str, quotes: str = "“”") -> tuple[str, str, str]:
    """One shown document's evidence (a report row's `evidence`) in words: its label, the
    longest span it shares with the target between `quotes` (open, close) or "no common word",
    and its scores. Unescaped: the HTML escapes each part."""
    span = evidence["longest_span"]
    copied = "no common word"
    if span:
        start, end = span["target"]
        copied = (
            f"longest shared span {span['words']} words: "
            f"{quotes[0]}{target_text[start:end]}{quotes[1]}"
        )
    scores = (
        f"{evidence['ngram_overlap']:.0%} of the output's 5-word sequences found in it, "
        f"semantic similarity {evidence['similarity']:.2f}"
    )
    return evidence["label"], copied, scores


def plain_answer(report: dict) -> str:
    """The finding in one or two sentences: the leading source, its share and its evidence,
    and the rights holder whose documents hold the most."""
    rows = report["contributors"]
    if not rows:
        return (
            "No training document lowered the model's loss on this output; the documents "
            "below made it less likely."
        )
    lead = rows[0]
    name = f"“{lead['title']}” ({lead['doc_key']})" if lead["title"] else lead["doc_key"]
    evidence = lead["evidence"]
    span = evidence["longest_span"] if evidence else None
    shared = (
        f"; the output shares {span['words']} words in a row with it ({evidence['label']})"
        if span
        else ""
    )
    out = (
        f"the training document that contributed most is {name}, with "
        f"{percent(lead['share'])} of the positive value{shared}."
    )
    groups = [r for r in report["rollups"]["source"] if r["share"] is not None]
    if groups and groups[0]["documents"] > 1:
        best = groups[0]
        out += (
            f" Its {best['documents']} documents from “{best['source']}” together hold "
            f"{percent(best['share'])}."
        )
    return out[0].upper() + out[1:]


def confidence(report: dict) -> str:
    """How much the answer can be relied on, from the leading source's evidence."""
    rows = report["contributors"]
    if not rows or rows[0]["evidence"] is None:
        return "Low: no textual evidence was computed for the leading source."
    label = rows[0]["evidence"]["label"]
    if label == "verbatim":
        return (
            "High. Training credits the leading source and the output repeats its words "
            "verbatim: two independent measurements agree."
        )
    if label == "close paraphrase":
        return (
            "Moderate. Training credits the leading source and the output says similar things "
            "in other words; similarity does not show that the two agree (it misses negation)."
        )
    return (
        "Low for any single document. Training credits the leading sources, but the output "
        "borrows no run of words from them: the credit is spread over style, vocabulary and "
        "facts, and a share says how much of the credit a document got, not that it was copied."
    )


def limitations(report: dict) -> list[str]:
    """What the report cannot say, in plain words."""
    out = [
        "Values measure each document's effect in the training that actually happened, to "
        "first order in each step (section 2); they are not measurements of retraining "
        "without a document, which could change what other documents teach.",
        "Only documents in this run's training corpus are considered; text the model learnt "
        "elsewhere (e.g. a pretrained base model) is not attributed.",
        "A high share means the document taught the model this output more than others did; "
        "whether that is a legal copy is for the reader to judge, with the evidence shown.",
    ]
    if (
        report["efficiency"] is not None
        and report["efficiency"]["measured_drop"] < (report["efficiency"]["values_sum"])
    ):
        out.append(
            "The documents' values add up to more than the measured drop of the output's "
            "loss (section 5): compare values with each other, not with the drop."
        )
    if not report["run"]["finished"]:
        out.append(
            f"The run has not finished: these are values up to step "
            f"{report['run']['committed_step']} and will change."
        )
    return out
