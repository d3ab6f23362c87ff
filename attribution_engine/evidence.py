"""Evidence beyond the gradient: why a document is credited for a target (DESIGN 6).

For one (target, document) pair, on word tokens after normalisation (NFKC, case-folded, only
Unicode word characters, so punctuation, case and whitespace never break a match):

- the longest common verbatim span, with its character positions in BOTH original texts;
- n-gram overlap: the share of the target's distinct word n-grams that occur in the document,
  and the character ranges those shared n-grams cover in each text (for highlighting);
- semantic similarity: cosine of sentence embeddings (`attribution_engine.embeddings`) between
  the target and the best-matching passage of the document (a sentence, two adjacent sentences,
  or a word window as long as the target; `passages`), so one restated sentence of a long
  paragraph is not diluted by the rest of it;
- a BM25 score of the document for the target as query, from `bm25s` over a given collection;
- a label from these, with the thresholds of `Thresholds`:
  verbatim          the longest common span is at least `verbatim_min_words` words, or (short
                    targets) covers at least `verbatim_min_fraction` of the target and is at least
                    `verbatim_short_min_words` long;
  close paraphrase  not verbatim, and similarity >= `paraphrase_min_similarity`;
  diffuse           neither: the gradient credits it, the text shows no direct borrowing.

Everything here is a pure function of its inputs; caching and storage live in db/evidence.py.
"""

from __future__ import annotations

import enum
import hashlib
import re
import threading
import unicodedata
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from difflib import SequenceMatcher
from itertools import pairwise
from typing import ClassVar

import numpy as np

_WORD = re.compile(r"\w+")
_SENTENCE = re.compile(r"(?<=[.!?])\s+")

Embed = Callable[[Sequence[str]], np.ndarray]  # texts -> float32 [N, D], rows of unit norm


class Label(enum.Enum):
    VERBATIM = "verbatim"
    PARAPHRASE = "close paraphrase"
    DIFFUSE = "diffuse"


@dataclass(frozen=True)
class Thresholds:
    """When a pair is labelled verbatim or close paraphrase (see the module docstring)."""

    # 13 words in a row: the n-gram length GPT-3's contamination analysis (Brown et al. 2020)
    # used for "this text was in the training data"; stock phrases ("the state of the union",
    # "ladies and gentlemen of the congress") stay well below it.
    verbatim_min_words: int = 13
    # A target shorter than 13 words is verbatim when most of it is one copied run ...
    verbatim_min_fraction: float = 0.5
    # ... of at least this many words (shorter shared runs are common phrases).
    verbatim_short_min_words: int = 6
    # all-MiniLM-L6-v2 cosine, measured in tests/attribution_engine/test_evidence.py: hand-written
    # paraphrases of a speech sentence 0.41-0.65 (idioms such as "nest eggs" score lowest), one
    # topic with other content 0.29-0.39, unrelated text 0.07, the verbatim sentence 0.77.
    # Embeddings miss negation: a contradiction of the sentence scored 0.83, so a paraphrase label
    # is not agreement.
    paraphrase_min_similarity: float = 0.55
    # Word n-grams for the overlap: 5 words share little by chance yet survive light edits.
    ngram: int = 5
    # Embedding windows in words: all-MiniLM-L6-v2 reads at most 256 word pieces (~180 words).
    window_words: int = 128
    window_stride: int = 64
    # Document passages are as long as the target, but never shorter than this (in words).
    min_window_words: int = 8

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Words:
    """Normalised word tokens of a text with their [start, end) character offsets in it."""

    tokens: tuple[str, ...]
    starts: tuple[int, ...]
    ends: tuple[int, ...]


@dataclass(frozen=True)
class Span:
    """The longest common run of normalised words. Offsets are characters [start, end) in the
    original (unnormalised) texts; `text` is the target's own characters of the span."""

    words: int
    target_start: int
    target_end: int
    document_start: int
    document_end: int
    text: str


@dataclass(frozen=True)
class Evidence:
    """Evidence of one (target, document) pair; positions are character offsets [start, end)."""

    label: Label
    span: Span | None  # None: no word in common
    ngram_overlap: float  # share of the target's distinct n-grams found in the document, 0..1
    target_ranges: tuple[tuple[int, int], ...]  # target characters covered by shared n-grams
    document_ranges: tuple[tuple[int, int], ...]  # document characters covered by them
    similarity: float  # cosine of the embeddings, -1..1 (best window pair)
    bm25: float  # BM25 score of the document for the target as query (0 = no shared term)


def words(text: str) -> Words:
    """Word tokens after NFKC and case folding, keeping their positions in `text`."""
    tokens, starts, ends = [], [], []
    for match in _WORD.finditer(text):
        tokens.append(unicodedata.normalize("NFKC", match.group()).casefold())
        starts.append(match.start())
        ends.append(match.end())
    return Words(tuple(tokens), tuple(starts), tuple(ends))


def longest_common_span(target: str, document: str) -> Span | None:
    """The longest run of consecutive normalised words found in both texts (first if tied)."""
    a, b = words(target), words(document)
    if not a.tokens or not b.tokens:
        return None
    # autojunk off: frequent words ("the") must still be able to extend a match.
    match = SequenceMatcher(None, a.tokens, b.tokens, autojunk=False).find_longest_match(
        0, len(a.tokens), 0, len(b.tokens)
    )
    if match.size == 0:
        return None
    t0, t1 = a.starts[match.a], a.ends[match.a + match.size - 1]
    d0, d1 = b.starts[match.b], b.ends[match.b + match.size - 1]
    return Span(match.size, t0, t1, d0, d1, target[t0:t1])


def ngram_overlap(
    target: str, document: str, n: int
) -> tuple[float, tuple[tuple[int, int], ...], tuple[tuple[int, int], ...]]:
    """(share of the target's distinct word n-grams found in the document, target ranges,
    document ranges). A target shorter than n words uses its own length as n."""
    a, b = words(target), words(document)
    n = min(n, len(a.tokens))
    if n == 0 or len(b.tokens) < n:
        return 0.0, (), ()
    target_grams = _grams(a.tokens, n)
    document_grams = _grams(b.tokens, n)
    shared = set(target_grams) & set(document_grams)
    distinct = len(set(target_grams))
    return (
        len(shared) / distinct,
        _covered(a, target_grams, shared, n),
        _covered(b, document_grams, shared, n),
    )


def _grams(tokens: tuple[str, ...], n: int) -> list[tuple[str, ...]]:
    return [tokens[i : i + n] for i in range(len(tokens) - n + 1)]


def _covered(text: Words, grams: list[tuple[str, ...]], shared: set, n: int) -> tuple:
    """Merged character ranges of the word positions covered by shared n-grams."""
    hit = np.zeros(len(text.tokens), dtype=bool)
    for i, gram in enumerate(grams):
        if gram in shared:
            hit[i : i + n] = True
    ranges: list[tuple[int, int]] = []
    i = 0
    while i < len(hit):
        if not hit[i]:
            i += 1
            continue
        j = i
        while j + 1 < len(hit) and hit[j + 1]:
            j += 1
        ranges.append((text.starts[i], text.ends[j]))
        i = j + 1
    return tuple(ranges)


def windows(text: str, size: int, stride: int) -> list[str]:
    """Overlapping windows of `size` words (every `stride` words), as substrings of `text`.

    A text of at most `size` words is one window: itself, stripped."""
    w = words(text)
    if len(w.tokens) <= size:
        return [text.strip()]
    out = []
    for start in range(0, len(w.tokens) - size + stride, stride):
        end = min(start + size, len(w.tokens))
        out.append(text[w.starts[start] : w.ends[end - 1]])
        if end == len(w.tokens):
            break
    return out


def passages(document: str, target_words: int, thresholds: Thresholds) -> list[str]:
    """The parts of a document a target is compared with: its sentences, pairs of adjacent
    sentences, and word windows as long as the target (half-overlapping), each at most
    `window_words` long, and the whole document when it fits one window. A target that
    restates one sentence of a long paragraph must not be diluted by the rest of it."""
    size = max(thresholds.min_window_words, min(target_words, thresholds.window_words))
    sentences = [s for s in _SENTENCE.split(document.strip()) if _WORD.search(s)]
    pairs = [f"{a} {b}" for a, b in pairwise(sentences)]
    candidates = sentences + pairs + windows(document, size, max(1, size // 2))
    candidates += windows(document, thresholds.window_words, thresholds.window_stride)
    kept = [c for c in candidates if len(words(c).tokens) <= thresholds.window_words]
    return list(dict.fromkeys(kept)) or [document.strip()]


def similarity(target: str, document: str, embed: Embed, thresholds: Thresholds) -> float:
    """Best cosine similarity between a window of the target and a passage of the document."""
    a = windows(target, thresholds.window_words, thresholds.window_stride)
    b = passages(document, len(words(target).tokens), thresholds)
    vectors = embed(a + b)  # [len(a) + len(b), D], unit rows
    cosines = vectors[: len(a)] @ vectors[len(a) :].T  # [len(a), len(b)]
    return float(np.clip(cosines.max(), -1.0, 1.0))


def bm25_scores(query: str, collection: Sequence[str]) -> np.ndarray:
    """BM25 (bm25s defaults: Lucene variant, k1=1.5, b=0.75) of every text of `collection` for
    `query`, float64 [len(collection)]. Terms are the normalised words of `words`, so IDF and
    length normalisation come from `collection` itself: pass the whole corpus for corpus IDF.

    The index of a collection is built once and kept (`Bm25Index.of`): a report ranks and
    scores its evidence against the same corpus, and the UI asks again for every target."""
    if not collection:
        return np.zeros(0)
    return Bm25Index.of(collection).scores(query)


class Bm25Index:
    """A BM25 index of one collection of texts, whatever order they come in.

    The texts are indexed sorted (equal texts score alike, and BM25's document frequencies
    and mean length do not depend on order), so two callers that list one corpus in different
    orders share one index and get the same scores. `of` keeps the last `CACHED` indexes,
    keyed by the SHA-256 of the sorted texts (each length-prefixed): building the index of a
    17,000-document corpus takes seconds, hashing it milliseconds."""

    CACHED = 4  # corpora kept: a UI session rarely looks at more runs at once
    _cache: ClassVar[OrderedDict[str, Bm25Index]] = OrderedDict()
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, texts: Sequence[str]):
        import bm25s

        self.size = len(texts)
        self._index = bm25s.BM25()
        self._index.index([list(words(t).tokens) or [""] for t in texts], show_progress=False)

    @classmethod
    def of(cls, collection: Sequence[str]) -> _Ordered:
        order = sorted(range(len(collection)), key=collection.__getitem__)
        digest = hashlib.sha256()
        for i in order:
            data = collection[i].encode("utf-8", "surrogatepass")
            digest.update(len(data).to_bytes(8, "little") + data)
        key = digest.hexdigest()
        with cls._lock:
            index = cls._cache.get(key)
            if index is not None:
                cls._cache.move_to_end(key)
        if index is None:
            index = cls([collection[i] for i in order])
            with cls._lock:
                cls._cache[key] = index
                while len(cls._cache) > cls.CACHED:
                    cls._cache.popitem(last=False)
        return _Ordered(index, np.asarray(order, dtype=np.int64))

    def scores(self, query: str) -> np.ndarray:
        """float64 [size]: the score of each indexed text (in indexed order) for `query`."""
        terms = list(dict.fromkeys(words(query).tokens))
        return self._index.get_scores(terms).astype(np.float64)


class _Ordered:
    """An index seen in its caller's order: position i is the caller's i-th text."""

    def __init__(self, index: Bm25Index, order: np.ndarray):
        self.index, self.order = index, order  # order[j]: the caller's position of indexed j

    def scores(self, query: str) -> np.ndarray:
        out = np.empty(self.index.size, dtype=np.float64)
        out[self.order] = self.index.scores(query)
        return out


def label(span: Span | None, target_words: int, cosine: float, thresholds: Thresholds) -> Label:
    """verbatim / close paraphrase / diffuse from the span and the similarity (module docstring)."""
    copied = span.words if span else 0
    if copied >= thresholds.verbatim_min_words or (
        copied >= thresholds.verbatim_short_min_words
        and target_words > 0
        and copied / target_words >= thresholds.verbatim_min_fraction
    ):
        return Label.VERBATIM
    if cosine >= thresholds.paraphrase_min_similarity:
        return Label.PARAPHRASE
    return Label.DIFFUSE


def evidence(
    target: str,
    document: str,
    *,
    embed: Embed,
    bm25: float,
    thresholds: Thresholds | None = None,
) -> Evidence:
    """All evidence of one pair; `bm25` comes from `bm25_scores` over the chosen collection."""
    thresholds = thresholds or Thresholds()
    span = longest_common_span(target, document)
    share, target_ranges, document_ranges = ngram_overlap(target, document, thresholds.ngram)
    cosine = similarity(target, document, embed, thresholds)
    return Evidence(
        label=label(span, len(words(target).tokens), cosine, thresholds),
        span=span,
        ngram_overlap=share,
        target_ranges=target_ranges,
        document_ranges=document_ranges,
        similarity=cosine,
        bm25=float(bm25),
    )
