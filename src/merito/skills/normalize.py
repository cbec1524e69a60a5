"""Skill normalisation: free text ("python dev", "k8s") -> ranked taxonomy skills, offline.

A hybrid of two tiers over the same skills, both pure numpy/scipy:

- **lexical**: character 4-gram TF-IDF (inside word boundaries, sublinear tf, L2-normalised)
  of each skill's preferred and alternative labels (a skill's alternative labels pooled, so
  thirty synonyms weigh like a few); robust to plurals, word order, partial words and most
  typos. One sparse row per skill, so a query batch is one sparse matrix product.
  (Descriptions may join it, ``lexical_descriptions``; they make the product dense for a
  Recall@1 gain of 0.02, so by default they feed the semantic tier only.)
- **semantic** (optional): a static embedding (``StaticEmbedding``): one vector per WordPiece
  token, a phrase is the mean of its tokens' vectors (model2vec's recipe; the shipped vectors
  were distilled from all-MiniLM-L6-v2, see scripts/build_skill_embedding.py). It finds
  synonyms that share no letters ("attorney" ~ "lawyer").

The semantic tier embeds the preferred label, the alternative labels (pooled) and the
description of each skill. Scores fuse linearly: ``lexical_weight * cos_lexical +
(1 - lexical_weight) * cos_semantic``.
By default the lexical tier proposes ``candidates`` skills per query and the semantic tier
re-ranks them (fast); ``exhaustive=True`` also scores every skill semantically and adds its
best ones to the candidates (slower; measured no better on ESCO). A curated abbreviation list
(``k8s`` -> kubernetes, ``js`` -> javascript) expands query words before both tiers; an exact
label match (after normalisation) is ranked first.
"""

from __future__ import annotations

import io
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final, NamedTuple, Protocol

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

__all__ = [
    "Encoder",
    "IndexEntry",
    "Match",
    "SkillIndex",
    "StaticEmbedding",
    "WordPieceTokenizer",
    "normalize_text",
    "parse_abbreviations",
]

FloatArray = npt.NDArray[np.float32]
#: 4-grams measured as good as 3- to 5-grams on ESCO (Recall@1 0.726 vs 0.725) with a third
#: fewer shared features per query; a word shorter than that is one feature (" c ", " r ")
_NGRAM: Final = 4
_KEEP: Final = re.compile(r"[^0-9a-z+#]+")
#: queries scored together (bounds the candidates x dimensions gather to a few MB)
_CHUNK: Final = 256
#: BERT's basic split: runs of letters/digits, or one punctuation/symbol character ('_' too)
_BASIC: Final = re.compile(r"[^\W_]+|[^\w\s]|_")


def normalize_text(text: str) -> str:
    """Lower case, accents stripped, anything but letters, digits, '+' and '#' a space."""
    text = text.lower()
    if not text.isascii():
        folded = unicodedata.normalize("NFKD", text)
        text = "".join(c for c in folded if not unicodedata.combining(c))
    return _KEEP.sub(" ", text).strip()


def parse_abbreviations(text: str) -> dict[str, str]:
    """``abbreviation<TAB>expansion`` lines ('#' comments) -> normalised word -> expansion."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        short, _, long = line.partition("\t")
        if short.strip() and long.strip():
            out[normalize_text(short)] = normalize_text(long)
    return out


@dataclass(frozen=True, slots=True)
class IndexEntry:
    """What the index knows of one skill."""

    id: str
    preferred_label: str
    alt_labels: tuple[str, ...] = ()
    description: str = ""


class Match(NamedTuple):
    """One ranked skill (a tuple: cheap to make by the hundred thousand)."""

    #: position of the skill in the entries the index was built from
    position: int
    id: str
    score: float
    lexical: float
    semantic: float
    #: the query equals one of the skill's labels (after normalisation)
    exact: bool = False


# --- lexical tier --------------------------------------------------------------------------


def _l2_rows(matrix: sp.csr_matrix) -> sp.csr_matrix:
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    norms[norms == 0] = 1
    return sp.csr_matrix(sp.diags(1 / norms) @ matrix, dtype=np.float32)


class _CharNgrams:
    """Character n-gram TF-IDF with a fitted vocabulary (n-grams unseen at fit are ignored)."""

    def __init__(self, texts: Sequence[str]) -> None:
        self.vocabulary: dict[str, int] = {}
        self._word_cache: dict[str, npt.NDArray[np.int64]] = {}
        # n-grams never cross a word boundary: grow the vocabulary one distinct word at a time
        for text in texts:
            for word in text.split():
                if word not in self._word_cache:
                    self._word_cache[word] = np.asarray(
                        self._grams(word, grow=True), dtype=np.int64
                    )
        df = np.zeros(len(self.vocabulary), dtype=np.float64)
        for text in texts:
            words = text.split()
            if words:
                df[np.unique(np.concatenate([self._word_cache[w] for w in words]))] += 1
        # smooth idf, as scikit-learn's TfidfVectorizer(smooth_idf=True)
        self.idf = (np.log((1 + len(texts)) / (1 + df)) + 1).astype(np.float32)

    def _grams(self, text: str, *, grow: bool = False) -> list[int]:
        columns: list[int] = []
        vocabulary = self.vocabulary
        for word in text.split():
            padded = f" {word} "
            grams = [padded[i : i + _NGRAM] for i in range(len(padded) - _NGRAM + 1)] or [padded]
            for gram in grams:
                column = vocabulary.get(gram)
                if column is None:
                    if not grow:
                        continue
                    column = vocabulary[gram] = len(vocabulary)
                columns.append(column)
        return columns

    def _word_columns(self, word: str) -> npt.NDArray[np.int64]:
        cached = self._word_cache.get(word)
        if cached is None:
            cached = np.asarray(self._grams(word), dtype=np.int64)
            if len(self._word_cache) < 500_000:
                self._word_cache[word] = cached
        return cached

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        """Rows of L2-normalised sublinear-tf x idf weights, one per (normalised) text.

        Vectorised over the batch: one COO matrix of (row, n-gram) occurrences, summed."""
        parts = [[self._word_columns(w) for w in text.split()] for text in texts]
        lengths = np.asarray([sum(len(c) for c in p) for p in parts], dtype=np.int64)
        flat = [c for p in parts for c in p]
        columns = np.concatenate(flat) if flat else np.zeros(0, dtype=np.int64)
        rows = np.repeat(np.arange(len(texts)), lengths)
        counts = sp.csr_matrix(
            (np.ones(len(columns), dtype=np.float32), (rows, columns)),
            shape=(len(texts), len(self.vocabulary)),
        )
        counts.sum_duplicates()
        counts.data = (1 + np.log(counts.data)) * self.idf[counts.indices]
        return _l2_rows(counts)


# --- semantic tier -------------------------------------------------------------------------


class WordPieceTokenizer:
    """BERT's uncased tokenizer (basic split + greedy longest-match WordPiece), pure Python.

    Equivalent to Hugging Face ``BertTokenizer(do_lower_case=True)`` without special tokens;
    unknown words are dropped (as model2vec drops [UNK]).
    """

    def __init__(self, vocabulary: Sequence[str], *, max_word: int = 100) -> None:
        self.ids = {token: i for i, token in enumerate(vocabulary)}
        self.max_word = max_word
        self._cache: dict[str, tuple[int, ...]] = {}

    @staticmethod
    def basic(text: str) -> list[str]:
        """Lower case, accents stripped, split on spaces and around each punctuation mark."""
        text = text.lower()
        if not text.isascii():
            # accents dropped; control and format characters (zero-width space) split words
            text = "".join(
                " " if unicodedata.category(c)[0] == "C" else c
                for c in unicodedata.normalize("NFD", text)
                if not unicodedata.combining(c)
            )
        return _BASIC.findall(text)

    def word(self, word: str) -> tuple[int, ...]:
        cached = self._cache.get(word)
        if cached is not None:
            return cached
        pieces: list[int] = []
        if len(word) <= self.max_word:
            start = 0
            while start < len(word):
                end = len(word)
                found = None
                while start < end:
                    piece = word[start:end] if start == 0 else "##" + word[start:end]
                    found = self.ids.get(piece)
                    if found is not None:
                        break
                    end -= 1
                if found is None:
                    pieces = []  # the whole word is [UNK]
                    break
                pieces.append(found)
                start = end
        result = tuple(pieces)
        if len(self._cache) < 500_000:
            self._cache[word] = result
        return result

    def encode(self, text: str) -> list[int]:
        return [i for w in self.basic(text) for i in self.word(w)]


class StaticEmbedding:
    """Token vectors and their tokenizer: phrase -> the L2-normalised mean of its tokens."""

    def __init__(self, vocabulary: Sequence[str], vectors: FloatArray) -> None:
        if len(vocabulary) != vectors.shape[0]:
            raise ValueError("one vector per vocabulary token")
        self.tokenizer = WordPieceTokenizer(vocabulary)
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self.dim = int(vectors.shape[1])

    @classmethod
    def from_npz(cls, data: bytes) -> StaticEmbedding:
        """Reads the shipped format: ``tokens`` (newline-joined UTF-8), int8 ``vectors`` and
        per-token float32 ``scales`` (vector = int8 row x scale)."""
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            tokens = bytes(npz["tokens"]).decode().split("\n")
            vectors = npz["vectors"].astype(np.float32) * npz["scales"][:, None]
        return cls(tokens, vectors)

    def encode(self, texts: Sequence[str]) -> FloatArray:
        """One L2-normalised row per text (zeros for a text without known tokens)."""
        ids = [self.tokenizer.encode(text) for text in texts]
        lengths = np.asarray([len(i) for i in ids], dtype=np.int64)
        flat = np.fromiter((t for i in ids for t in i), dtype=np.int64, count=int(lengths.sum()))
        rows = np.repeat(np.arange(len(texts)), lengths)
        # the per-text token counts as a sparse matrix: sums of vectors in one product
        counts = sp.csr_matrix(
            (np.ones(len(flat), dtype=np.float32), (rows, flat)),
            shape=(len(texts), len(self.vectors)),
        )
        out = np.asarray(counts @ self.vectors, dtype=np.float32)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        np.divide(out, norms, out=out, where=norms > 0)
        return out


class Encoder(Protocol):
    """What the semantic tier needs: texts -> L2-normalised float32 rows (StaticEmbedding, or
    a heavier model such as ``merito.skills.heavy.SentenceTransformerEncoder``)."""

    def encode(self, texts: Sequence[str]) -> FloatArray: ...


# --- the index -----------------------------------------------------------------------------


class SkillIndex:
    """An immutable search index over taxonomy skills; build once, query from many threads."""

    def __init__(
        self,
        entries: Sequence[IndexEntry],
        *,
        embedding: Encoder | None = None,
        abbreviations: Mapping[str, str] | None = None,
        alt_labels: bool = True,
        descriptions: bool = True,
        alt_weight: float = 0.6,
        description_weight: float = 0.25,
        lexical_descriptions: bool = False,
        lexical_weight: float = 0.4,
        candidates: int = 40,
        max_df: float = 0.05,
    ) -> None:
        self.entries = tuple(entries)
        self.embedding = embedding
        self.abbreviations = dict(abbreviations or {})
        self.lexical_weight = lexical_weight if embedding is not None else 1.0
        self.candidates = candidates
        labels = [normalize_text(e.preferred_label) for e in self.entries]
        alts = [
            [normalize_text(a) for a in e.alt_labels] if alt_labels else [] for e in self.entries
        ]
        lexical_texts = descriptions and lexical_descriptions
        texts = [normalize_text(e.description) if lexical_texts else "" for e in self.entries]
        # exact label -> skill (preferred labels win over alternative ones)
        self.exact: dict[str, int] = {}
        for i, alt in enumerate(alts):
            for a in alt:
                self.exact.setdefault(a, i)
        for i, label in enumerate(labels):
            self.exact[label] = i
        flat_alts = [a for alt in alts for a in alt]
        self._ngrams = _CharNgrams([*labels, *flat_alts, *texts])
        matrix = self._ngrams.transform(labels)
        if flat_alts:
            owner = np.repeat(np.arange(len(alts)), [len(a) for a in alts])
            alt_rows = self._ngrams.transform(flat_alts)
            # each skill's alternative labels: their mean, so 30 synonyms weigh like a few
            counts = np.bincount(owner, minlength=len(alts)).astype(np.float32)
            pooling = sp.csr_matrix(
                (1 / counts[owner], (owner, np.arange(len(flat_alts)))),
                shape=(len(alts), len(flat_alts)),
            )
            matrix = matrix + alt_weight * (pooling @ alt_rows)
        if lexical_texts:
            matrix = matrix + description_weight * self._ngrams.transform(texts)
        lexical = _l2_rows(sp.csr_matrix(matrix)).T.tocsr()  # terms x skills
        if max_df < 1.0:
            # n-grams in more than max_df of the skills ("ing ", " man") carry little and make
            # the product dense: dropped (measured: Recall@1 0.755 -> 0.754, 3x faster)
            df = np.diff(lexical.indptr)
            # (never below 100 skills: a small index keeps every n-gram)
            keep = (df <= max(max_df * len(self.entries), 100)).astype(np.float32)
            lexical = sp.csr_matrix(sp.diags(keep) @ lexical)
            lexical.eliminate_zeros()
        self._lexical = lexical
        self._vectors: FloatArray | None = None
        if embedding is not None:
            vectors = embedding.encode([e.preferred_label for e in self.entries])
            all_alts = [a for e in self.entries for a in e.alt_labels] if alt_labels else []
            if all_alts:  # (an encoder may not shape an empty batch)
                alt_vectors = embedding.encode(all_alts)
                sums = np.zeros_like(vectors)
                owner_ids = np.repeat(
                    np.arange(len(self.entries)), [len(e.alt_labels) for e in self.entries]
                )
                np.add.at(sums, owner_ids, alt_vectors)
                norms = np.linalg.norm(sums, axis=1, keepdims=True)
                np.divide(sums, norms, out=sums, where=norms > 0)
                vectors = vectors + alt_weight * sums
            if descriptions:
                vectors = vectors + description_weight * embedding.encode(
                    [e.description for e in self.entries]
                )
            norms = np.linalg.norm(vectors, axis=1, keepdims=True)
            np.divide(vectors, norms, out=vectors, where=norms > 0)
            self._vectors = np.ascontiguousarray(vectors, dtype=np.float32)

    def __len__(self) -> int:
        return len(self.entries)

    def expand(self, query: str) -> str:
        """The normalised query with curated abbreviations expanded (the original kept)."""
        words = normalize_text(query).split()
        out: list[str] = []
        for word in words:
            out.append(word)
            expansion = self.abbreviations.get(word)
            if expansion is not None:
                out.append(expansion)
        joined = " ".join(words)
        whole = self.abbreviations.get(joined)
        if whole is not None and len(words) > 1:
            out.append(whole)
        return " ".join(out)

    def search(self, query: str, *, k: int = 10, exhaustive: bool = False) -> list[Match]:
        return self.search_batch([query], k=k, exhaustive=exhaustive)[0]

    def search_batch(
        self, queries: Sequence[str], *, k: int = 10, exhaustive: bool = False
    ) -> list[list[Match]]:
        """The ``k`` best skills for each query, best first (no match: an empty list)."""
        if not self.entries:
            return [[] for _ in queries]
        results: list[list[Match]] = []
        for start in range(0, len(queries), _CHUNK):
            results += self._search_chunk(queries[start : start + _CHUNK], k, exhaustive)
        return results

    def _search_chunk(self, queries: Sequence[str], k: int, exhaustive: bool) -> list[list[Match]]:
        n = len(queries)
        expanded = [self.expand(q) for q in queries]
        lexical = sp.csr_matrix(self._ngrams.transform(expanded) @ self._lexical)
        pool = max(self.candidates, k)
        semantic = self._vectors is not None and self.embedding is not None
        query_vectors = self.embedding.encode(expanded) if self.embedding is not None else None
        # candidates: a (queries x width) table of skill positions (-1: none) and their lexical
        # cosines: the lexical top ``pool``, then the exact label match, then (exhaustive) the
        # semantic top ``pool``
        width = pool + 1 + (pool if exhaustive and semantic else 0)
        candidates = np.full((n, width), -1, dtype=np.int64)
        lexical_scores = np.zeros((n, width), dtype=np.float32)
        indptr, indices, data = lexical.indptr, lexical.indices, lexical.data
        for row in range(n):  # only the per-row top-k selection stays in Python
            begin, end = indptr[row], indptr[row + 1]
            if end - begin > pool:
                top = np.argpartition(data[begin:end], -pool)[-pool:] + begin
                candidates[row, :pool] = indices[top]
                lexical_scores[row, :pool] = data[top]
            elif end > begin:
                candidates[row, : end - begin] = indices[begin:end]
                lexical_scores[row, : end - begin] = data[begin:end]
        exact = np.asarray([self.exact.get(normalize_text(q), -1) for q in queries], dtype=np.int64)
        is_exact = (candidates == exact[:, None]) & (exact[:, None] >= 0)
        missing = (exact >= 0) & ~is_exact.any(axis=1)
        candidates[missing, pool] = exact[missing]
        lexical_scores[missing, pool] = 1.0  # the label itself: a lexical cosine of 1
        if exhaustive and semantic and self._vectors is not None and query_vectors is not None:
            dense = query_vectors @ self._vectors.T
            take = min(pool, dense.shape[1])  # a small index has fewer skills than the pool
            extra = np.argpartition(dense, -take, axis=1)[:, -take:]
            seen = (extra[:, :, None] == candidates[:, None, : pool + 1]).any(axis=2)
            candidates[:, pool + 1 : pool + 1 + take] = np.where(seen, -1, extra)
        valid = candidates >= 0
        if semantic and self._vectors is not None and query_vectors is not None:
            vectors = self._vectors[np.where(valid, candidates, 0)]  # queries x width x dim
            cosines = np.matmul(vectors, query_vectors[:, :, None])[:, :, 0]
            w = self.lexical_weight
            scores = w * lexical_scores + (1 - w) * cosines
        else:
            cosines = np.zeros_like(lexical_scores)
            scores = lexical_scores
        is_exact = (candidates == exact[:, None]) & (exact[:, None] >= 0)
        # an exact label match ranks first, whatever its fused score; no candidate ranks last
        rank = np.where(valid, scores + 2.0 * is_exact, -np.inf)
        order = np.argsort(-rank, axis=1, kind="stable")[:, :k]
        picked = np.take_along_axis(candidates, order, axis=1).tolist()
        fused = np.take_along_axis(scores, order, axis=1).tolist()
        lex = np.take_along_axis(lexical_scores, order, axis=1).tolist()
        sem = np.take_along_axis(cosines, order, axis=1).tolist()
        entries = self.entries
        exact_list = exact.tolist()
        # plain Python numbers: numpy scalars are slow one by one
        return [
            [
                Match(c, entries[c].id, f, x, y, c == e)
                for c, f, x, y in zip(cs, fs, xs, ys, strict=True)
                if c >= 0
            ]
            for cs, fs, xs, ys, e in zip(picked, fused, lex, sem, exact_list, strict=True)
        ]
