"""The reference that specific contributions are measured against (DESIGN 2.4b), chosen so that
the run trains on exactly the corpus it is given.

Kinds (`--reference`):
- corpus (default): a seeded sample of corpus documents, scored as reference texts and still
  trained on; a document that is one of them leaves its own column out of its reference mean
  (its self-contribution is not "typical text"). Nothing leaves training.
- file: texts the user supplies (`--reference-file`, JSONL with id and text), none of which
  may overlap the corpus or equal a target.
- other_targets: each target against the mean of the others (two targets at least).
- held_out: corpus documents the user lists (`--hold-out ID`, repeatable) are taken out of
  training and scored as the reference: the only kind that removes documents, and only those.

A target that copies a document the run does not train on (a held-out one) cannot be traced to
it: `unreachable_targets` names such targets so that the run says so instead of ranking them
silently.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from pathlib import Path

from attribution_engine.corpus import Corpus
from attribution_engine.evidence import Label, Thresholds, label, longest_common_span, words
from attribution_engine.records import CorpusError
from attribution_engine.targets import TargetText, load_targets
from attribution_engine.train_config import TrainConfig
from provenance.recipe import Reference, TargetFlag


class BadReference(ValueError):
    """The reference asked for cannot be used; the message says why and how to fix it."""


def choose_reference(
    corpus: Corpus,
    config: TrainConfig,
    *,
    reference_file: Path | None = None,
    hold_out: Sequence[str] = (),
) -> Reference:
    """The run's reference (module docstring); BadReference before anything is written."""
    kind = config.reference
    if reference_file is not None and kind != "file":
        raise BadReference(f"--reference-file needs --reference file (the run asks for {kind})")
    if hold_out and kind != "held_out":
        raise BadReference(
            f"--hold-out removes documents from training and needs --reference held_out (the "
            f"run asks for {kind}); drop --hold-out to train on the whole corpus"
        )
    if kind == "other_targets":
        return Reference("other_targets", (), ())
    if kind == "file":
        return _file_reference(corpus, reference_file)
    if kind == "held_out":
        return _held_out_reference(corpus, hold_out)
    return _corpus_reference(corpus, config)


def _corpus_reference(corpus: Corpus, config: TrainConfig) -> Reference:
    count = min(config.reference_documents, len(corpus.documents) // 2)
    if count < 2:
        raise BadReference(
            f"--reference corpus needs at least 2 reference documents (asked for "
            f"{config.reference_documents}, the corpus has {len(corpus.documents)}); raise "
            "--reference-documents, or use --reference other_targets with two targets or more"
        )
    import torch  # the seeded sample; imported here so that describing a reference needs none

    generator = torch.Generator().manual_seed(config.seed + 1)
    picked = torch.randperm(len(corpus.documents), generator=generator)[:count].tolist()
    chosen = [corpus.documents[i] for i in sorted(picked)]
    return Reference("corpus", tuple(d.id for d in chosen), tuple(d.text for d in chosen))


def _held_out_reference(corpus: Corpus, hold_out: Sequence[str]) -> Reference:
    if not hold_out:
        raise BadReference(
            "--reference held_out takes documents out of training, so it needs the ones to "
            "hold out listed: --hold-out ID (repeatable); or use --reference corpus, which "
            "trains on every document"
        )
    by_id = {d.id: d for d in corpus.documents}
    unknown = [doc for doc in hold_out if doc not in by_id]
    if unknown:
        raise BadReference(
            f"--hold-out names {len(unknown)} id(s) not in the corpus {corpus.path}: "
            f"{', '.join(map(repr, unknown[:5]))}; use document ids from the corpus file"
        )
    if len(set(hold_out)) == len(corpus.documents):
        raise BadReference("--hold-out lists every document; nothing would be left to train on")
    ids = tuple(dict.fromkeys(hold_out))  # in the user's order, each once
    return Reference("held_out", ids, tuple(by_id[doc].text for doc in ids))


def _file_reference(corpus: Corpus, path: Path | None) -> Reference:
    if path is None:
        raise BadReference(
            "--reference file needs --reference-file PATH: a .jsonl of texts the run does not "
            'train on, one {"id": ..., "text": ...} per line'
        )
    try:
        texts = load_targets(path)
    except CorpusError as err:
        if "no targets" in str(err):
            raise BadReference(
                f"{path}: the reference file has no texts; add lines like "
                '{"id": "r1", "text": ...} (two or more give a steadier reference)'
            ) from None
        raise BadReference(f"reference file: {err}") from None
    if prompted := [t.id for t in texts if t.prompt]:
        raise BadReference(
            f"{path}: reference texts take no prompt (ids {', '.join(prompted[:5])}); "
            "remove the 'prompt' keys"
        )
    documents = {_normal(d.text): d.id for d in corpus.documents}
    for text in texts:
        inside = _normal(text.text)
        same = documents.get(inside) or next(
            (doc for body, doc in documents.items() if inside in body or body in inside), None
        )
        if same is not None:
            raise BadReference(
                f"{path}: reference {text.id!r} overlaps corpus document {same!r} (one contains "
                "the other), so that document would be measured against its own text; remove "
                "it from the reference file, or use --reference corpus, which handles corpus "
                "texts as references"
            )
    return Reference("file", tuple(t.id for t in texts), tuple(t.text for t in texts))


def check_against_targets(reference: Reference, targets: Sequence[TargetText]) -> None:
    """A user-supplied reference text that equals a target would cancel that target's own
    contribution. (A corpus reference document may equal a target: it stays in training and
    leaves its own column out, so its source is still found.)"""
    if reference.kind != "file":
        return
    pairs = zip(reference.doc_ids, reference.texts, strict=True)
    texts = {_normal(text): ref for ref, text in pairs}
    for target in targets:
        ref = texts.get(_normal(target.text))
        if ref is not None:
            raise BadReference(
                f"target {target.id!r} is the same text as reference {ref!r}: measured against "
                "itself, its specific contribution would be cancelled; remove that text from "
                "the reference file, or the target"
            )


def unreachable_targets(
    targets: Sequence[TargetText], reference: Reference, thresholds: Thresholds | None = None
) -> tuple[TargetFlag, ...]:
    """Targets that copy (verbatim, by the evidence's rule) a document the run does not train
    on: their source cannot rank, whatever the values say."""
    thresholds = thresholds or Thresholds()
    pairs = zip(reference.doc_ids, reference.texts, strict=True)
    excluded = list(pairs) if reference.excluded else []
    flags = []
    for target in targets:
        target_words = len(words(target.text).tokens)
        for doc, text in excluded:
            span = longest_common_span(target.text, text)
            if label(span, target_words, 0.0, thresholds) is Label.VERBATIM:
                flags.append(
                    TargetFlag(
                        target.id,
                        doc,
                        f"copies {span.words} words of document {doc}, which this run does not "
                        "train on (held out by --hold-out): its source cannot be found here",
                    )
                )
                break
    return tuple(flags)


def describe(reference: Reference) -> str:
    """What specific values of a run are measured against, in words (UI and reports)."""
    n = len(reference.doc_ids)
    documents = f"{n} corpus document{'s' if n != 1 else ''}"
    if reference.kind == "corpus":
        return (
            f"{documents} that are still trained on (each document's own text, if it is one "
            "of them, is left out of its own reference)"
        )
    if reference.kind == "file":
        return f"{n} text{'s' if n != 1 else ''} from a reference file, none of them in the corpus"
    if reference.kind == "held_out":
        return f"{documents} the user held out of training (these are not trained on)"
    return "the mean over the run's other targets"


def target_flag(flags: Sequence[TargetFlag], target_id: str) -> str | None:
    """Why the target's source cannot be found in this run, or None."""
    return next((f.reason for f in flags if f.target_id == target_id), None)


def clip_reference(reference: Reference, tokenizer, context: int) -> Reference:
    """Reference texts cut at a word boundary to fit one row of `context` tokens."""
    clipped = []
    for text in reference.texts:
        cut = text.split(" ")
        while len(tokenizer(" ".join(cut), add_special_tokens=False)["input_ids"]) > context:
            cut = cut[: max(1, int(len(cut) * 0.9))]
        clipped.append(" ".join(cut))
    return Reference(reference.kind, reference.doc_ids, tuple(clipped))


def _normal(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).split()).casefold()
