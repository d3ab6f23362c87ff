"""Evidence of one (target, document) pair: verbatim spans with exact positions, a paraphrase
with little word overlap, unrelated text, and BM25 from bm25s."""

import numpy as np
import pytest

from attribution_engine.embeddings import CachedEmbedder, encode
from attribution_engine.evidence import (
    Label,
    Thresholds,
    bm25_scores,
    evidence,
    longest_common_span,
    ngram_overlap,
    windows,
    words,
)

SOURCE = (
    "Our economy is stronger than it was a year ago. Factories that stood empty are hiring "
    "again, and families who feared for their savings can once more plan for the future. "
    "But too many of our neighbours still work two jobs and cannot afford a home."
)
# The middle sentence copied with other case and punctuation, inside text of its own.
COPY = (
    "He said: factories that stood empty are hiring again -- and families who feared for their "
    "savings can once more plan for the future! Then he left."
)
# The same meaning in other words (hand-written; shares only a few function words).
PARAPHRASE = (
    "Shuttered manufacturing plants now recruit workers, while households anxious about losing "
    "their money look ahead again."
)
# Same topic (the economy, a speech), other content: must stay below the paraphrase threshold.
SAME_TOPIC = (
    "Tax rates on imported steel will rise by ten percent next year.",
    "The nation must invest in its roads, bridges and railways to stay competitive.",
    "Unemployment fell last quarter as the central bank held interest rates steady.",
    "Congress should pass the budget before the end of the fiscal year.",
)
UNRELATED = "Penguins huddle together through the long dark Antarctic winter to keep warm."


@pytest.fixture(scope="module")
def embed():
    return CachedEmbedder()


def test_verbatim_copy_gets_its_exact_span_in_both_texts(embed):
    found = evidence(COPY, SOURCE, embed=embed, bm25=1.0)
    assert found.label is Label.VERBATIM
    span = found.span
    expected = "factories that stood empty are hiring again -- and families who feared for their "
    expected += "savings can once more plan for the future"
    assert span.text == expected
    assert COPY[span.target_start : span.target_end] == expected
    assert SOURCE[span.document_start : span.document_end] == (
        "Factories that stood empty are hiring again, and families who feared for their "
        "savings can once more plan for the future"
    )
    assert span.words == 21
    assert found.ngram_overlap > 0.5
    assert found.target_ranges == ((span.target_start, span.target_end),)
    assert found.document_ranges == ((span.document_start, span.document_end),)


def test_paraphrase_with_little_word_overlap_is_a_close_paraphrase(embed):
    shared = set(words(PARAPHRASE).tokens) & set(words(SOURCE).tokens)
    assert shared <= {"their", "again"}  # the hand-written premise
    found = evidence(PARAPHRASE, SOURCE, embed=embed, bm25=0.0)
    assert found.span.words <= 1
    assert found.ngram_overlap == 0.0
    assert found.similarity >= Thresholds().paraphrase_min_similarity
    assert found.label is Label.PARAPHRASE


@pytest.mark.parametrize("text", SAME_TOPIC)
def test_same_topic_other_content_is_diffuse(embed, text):
    found = evidence(text, SOURCE, embed=embed, bm25=0.0)
    assert found.label is Label.DIFFUSE
    assert found.similarity < Thresholds().paraphrase_min_similarity - 0.1


def test_unrelated_text_is_neither(embed):
    found = evidence(UNRELATED, SOURCE, embed=embed, bm25=0.0)
    assert found.label is Label.DIFFUSE
    assert found.similarity < 0.3
    assert found.ngram_overlap == 0.0


def test_short_target_copied_whole_is_verbatim(embed):
    found = evidence("once more plan for the future", SOURCE, embed=embed, bm25=0.0)
    assert found.label is Label.VERBATIM
    assert found.span.words == 6


def test_common_phrase_alone_is_not_verbatim(embed):
    target = "Many of our neighbours went to the sea for a holiday in the warm summer."
    found = evidence(target, SOURCE, embed=embed, bm25=0.0)
    assert found.span.text == "Many of our neighbours"
    assert found.label is not Label.VERBATIM


def test_no_common_word_gives_no_span():
    assert longest_common_span("alpha beta", "gamma delta") is None
    assert longest_common_span("", SOURCE) is None
    assert ngram_overlap("alpha beta", "gamma delta", 5) == (0.0, (), ())


def test_ngram_ranges_are_merged_and_located():
    share, target_ranges, document_ranges = ngram_overlap(
        "x a b c d e y", "a b c d e z z a b c d e", n=5
    )
    assert share == 1 / 3
    assert target_ranges == ((2, 11),)
    assert document_ranges == ((0, 9), (14, 23))


def test_long_documents_are_windowed():
    text = " ".join(f"w{i}" for i in range(300))
    parts = windows(text, 128, 64)
    assert parts[0].startswith("w0 ") and parts[-1].endswith("w299")
    assert all(len(words(p).tokens) <= 128 for p in parts)
    assert windows("  short  ", 128, 64) == ["short"]


def test_bm25_ranks_the_shared_terms_first():
    scores = bm25_scores("empty factories hiring", [UNRELATED, SOURCE, PARAPHRASE])
    assert scores.dtype == np.float64
    assert scores.argmax() == 1 and scores[0] == 0.0 and scores[2] == 0.0


def test_cached_embedder_computes_each_text_once():
    store: dict = {}
    embed = CachedEmbedder(lambda keys: {k: store[k] for k in keys if k in store}, store.update)
    first = embed([SOURCE, UNRELATED, SOURCE])
    again = embed([UNRELATED, SOURCE])
    assert embed.computed == 2
    np.testing.assert_array_equal(again, first[[1, 0]])
    # Batched with a neighbour, a vector differs from the text's own in the last bits only.
    np.testing.assert_allclose(first[0], encode([SOURCE])[0], rtol=0, atol=1e-6)
    assert abs(float(np.linalg.norm(first[0])) - 1.0) < 1e-5
