"""The demo's corpus: short State of the Union paragraphs plus a few "registered works" that
occur many times, as duplicated text does on the web, so that a tiny model memorises them.

The registered works are short original texts written for this demo. Their rights holder,
licence and URL are fictional (example.org) and marked as such; they stand for the protected
works a real corpus would contain. Every copy is its own document ("mirror" pages with their
own id and URL), so the ledger holds one value per copy and the roll-up by source (the rights
holder) adds the copies up. The SOTU paragraphs are public domain (provenance/sotu_corpus.py).

The reference (what specific contribution is measured against, DESIGN 2.4b) is a file of SOTU
paragraphs the run does not train on: a sampled corpus reference could pick a copy of a work
and so measure that work against itself.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from attribution_engine.corpus import Corpus, Document, load_corpus, write_jsonl
from attribution_engine.targets import TargetText, write_targets
from provenance.sotu_corpus import sotu_documents

__all__ = [
    "CORPUS_VERSION",
    "REGISTERED_WORKS",
    "DemoCorpus",
    "RegisteredWork",
    "build_demo_corpus",
    "is_work",
    "load_demo_corpus",
]

CORPUS_VERSION = 1  # in the corpus folder's name: a changed recipe of the corpus is built anew
RIGHTS_HOLDER = "Marrow Street Press (fictional rights holder)"
WORK_LICENSE = "all rights reserved (registered work; demo marking)"
WORK_PREFIX = "work/"


@dataclass(frozen=True)
class RegisteredWork:
    key: str
    title: str
    text: str
    copies: int  # how many documents of the corpus hold it (mirrors of one web page)


REGISTERED_WORKS = (
    RegisteredWork(
        "lamplighter",
        "The Lamplighter's Ledger",
        "Every evening the lamplighter of Marrow Street climbed his narrow ladder, counted "
        "forty-one lamps, and wrote each flame into a green ledger that no one else was allowed "
        "to read. When the city bought electric lights, he kept counting anyway, one empty post "
        "at a time.",
        copies=24,  # seen often enough to be reproduced word for word
    ),
    RegisteredWork(
        "salt-road",
        "Salt Road Song",
        "Bring the salt down from the mountain, bring it slow along the river road; every sack a "
        "silver promise, every mile a heavy load. Sing it to the ferryman at morning, sing it to "
        "the miller at the mill, and the salt road goes on singing when the wheels are standing "
        "still.",
        copies=12,  # registered, never prompted: it must not take the reproduction's credit
    ),
    RegisteredWork(
        "quiet-birds",
        "A Field Guide to Quiet Birds",
        "The grey warbler sings only once at dawn, a thin rising note that sounds like a "
        "question. Observers who wait beside the alder thickets for an hour are sometimes "
        "rewarded with a second song, lower and slower, which ornithologists call the answer.",
        copies=3,  # seen less: the model keeps fragments of it
    ),
)


@dataclass(frozen=True)
class DemoCorpus:
    """What the demo trains on and what it measures against, with the sizes it printed."""

    corpus: Corpus
    corpus_path: Path
    reference_path: Path  # JSONL of SOTU paragraphs not trained on
    paragraphs: int  # SOTU paragraphs in the corpus
    work_copies: int  # documents that are copies of a registered work

    def sizes(self) -> str:
        works = ", ".join(f"'{w.title}' x{w.copies}" for w in REGISTERED_WORKS)
        return (
            f"{len(self.corpus.documents)} documents: {self.paragraphs} SOTU paragraphs of "
            f"40-70 words and {self.work_copies} copies of {len(REGISTERED_WORKS)} registered "
            f"works ({works})"
        )


def is_work(doc_key: str) -> bool:
    return doc_key.startswith(WORK_PREFIX)


def work_documents() -> list[Document]:
    return [
        Document.from_text(
            f"{WORK_PREFIX}{work.key}/copy-{c:02d}",
            work.text,
            source=RIGHTS_HOLDER,
            author=RIGHTS_HOLDER,
            license=WORK_LICENSE,
            url=f"https://example.org/mirror-{c:02d}/{work.key}",
            title=work.title,
            metadata={"registered_work": work.key, "copy": c},
        )
        for work in REGISTERED_WORKS
        for c in range(work.copies)
    ]


def build_demo_corpus(
    directory: str | os.PathLike[str],
    paragraphs: int = 60,
    references: int = 4,
    max_words: int = 70,
) -> DemoCorpus:
    """Write corpus.jsonl and reference.jsonl under `directory` (atomically) and load them.

    `paragraphs` SOTU paragraphs of 40 to `max_words` words, spread evenly over the addresses
    (1790 to today), then the copies of the registered works; the reference is the
    `references` short paragraphs that sit halfway between chosen ones (never trained on).
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    short = [d for d in sotu_documents(40) if len(d.text.split()) <= max_words]
    stride = len(short) // paragraphs
    if stride < 2:
        raise ValueError(
            f"asked for {paragraphs} paragraphs but only {len(short)} have 40-{max_words} words"
        )
    chosen = short[::stride][:paragraphs]
    spare = short[stride // 2 :: stride * max(1, paragraphs // references)][:references]
    write_jsonl([*chosen, *work_documents()], directory / "corpus.jsonl")
    reference_path = directory / "reference.jsonl"
    write_targets([TargetText(d.id, d.text) for d in spare], reference_path)
    return load_demo_corpus(directory)


def load_demo_corpus(
    directory: str | os.PathLike[str], paragraphs: int | None = None
) -> DemoCorpus:
    """The demo corpus built earlier under `directory` (`paragraphs` is read from it)."""
    directory = Path(directory)
    corpus = load_corpus(directory / "corpus.jsonl")
    copies = sum(1 for d in corpus.documents if is_work(d.id))
    return DemoCorpus(
        corpus,
        directory / "corpus.jsonl",
        directory / "reference.jsonl",
        len(corpus.documents) - copies,
        copies,
    )
