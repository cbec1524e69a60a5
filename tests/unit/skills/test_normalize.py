"""The skill normaliser: tokenizers, the hybrid index, and its quality on ESCO (honest protocol).

Quality protocol: the index holds ESCO preferred labels and descriptions only; the queries are
ESCO alternative labels (never indexed), so a hit means the normaliser found the skill from a
phrasing it has not seen. Figures measured on the whole of ESCO v1.1.1 (13,896 skills):
lexical Recall@1 0.72; hybrid Recall@1 0.76, Recall@5 0.87 (benchmarks/normalize.py).
"""

from __future__ import annotations

import importlib.util
import io
import random
from collections.abc import Sequence
from importlib.resources import files

import numpy as np
import pytest

from merito.skills.bundle import decode_bundle
from merito.skills.normalize import (
    IndexEntry,
    SkillIndex,
    StaticEmbedding,
    WordPieceTokenizer,
    normalize_text,
    parse_abbreviations,
)
from merito.skills.taxonomy import Taxonomy

DATA = files("merito.skills").joinpath("data")


@pytest.fixture(scope="module")
def esco() -> Taxonomy:
    return decode_bundle(DATA.joinpath("esco-v1.1.1-en.json.xz").read_bytes())


@pytest.fixture(scope="module")
def embedding() -> StaticEmbedding:
    return StaticEmbedding.from_npz(DATA.joinpath("skill-embedding.npz").read_bytes())


@pytest.fixture(scope="module")
def abbreviations() -> dict[str, str]:
    return parse_abbreviations(DATA.joinpath("abbreviations.tsv").read_text("utf-8"))


@pytest.fixture(scope="module")
def entries(esco: Taxonomy) -> list[IndexEntry]:
    return [
        IndexEntry(s.uri, s.preferred_label, s.alt_labels, s.description)
        for s in esco.skills
        if s.kind == "skill"
    ]


@pytest.fixture(scope="module")
def production(
    entries: list[IndexEntry], embedding: StaticEmbedding, abbreviations: dict[str, str]
) -> SkillIndex:
    return SkillIndex(entries, embedding=embedding, abbreviations=abbreviations)


def test_normalize_text_folds_case_accents_and_punctuation() -> None:
    assert normalize_text("  Café-Management (C++/C#)! ") == "cafe management c++ c#"
    assert normalize_text("") == ""


def test_abbreviations_file_format() -> None:
    parsed = parse_abbreviations("# comment\nK8s\tKubernetes containers\n\nbad line\n")
    assert parsed == {"k8s": "kubernetes containers"}


def test_basic_tokenizer_splits_like_bert() -> None:
    basic = WordPieceTokenizer.basic
    assert basic("Don't panic, C++!") == ["don", "'", "t", "panic", ",", "c", "+", "+", "!"]
    assert basic("Résumé\u200bwriting snake_case") == ["resume", "writing", "snake", "_", "case"]


def test_wordpiece_is_greedy_longest_match_and_drops_unknown_words() -> None:
    tokenizer = WordPieceTokenizer(["[UNK]", "un", "##aff", "##able", "aff", "!"])
    assert tokenizer.encode("unaffable!") == [1, 2, 3, 5]
    assert tokenizer.encode("zzz unaffable") == [1, 2, 3]


def test_static_embedding_reads_the_int8_format() -> None:
    buffer = io.BytesIO()
    np.savez(
        buffer,
        tokens=np.frombuffer(b"a\nb", dtype=np.uint8),
        vectors=np.array([[127, 0], [0, -127]], dtype=np.int8),
        scales=np.array([0.5, 2.0], dtype=np.float32),
    )
    model = StaticEmbedding.from_npz(buffer.getvalue())
    np.testing.assert_allclose(model.vectors, [[63.5, 0], [0, -254]])
    np.testing.assert_allclose(model.encode(["a b", "zzz"]), [[0.242536, -0.970143], [0, 0]], 1e-5)


def test_shipped_embedding_knows_synonyms(embedding: StaticEmbedding) -> None:
    a, b, c = embedding.encode(["lawyer", "attorney", "welding"])
    assert float(a @ b) > float(a @ c) + 0.2


def test_empty_index_and_queries_without_any_known_feature() -> None:
    assert SkillIndex([]).search("python") == []
    index = SkillIndex([IndexEntry("1", "python"), IndexEntry("2", "java")])
    assert index.search("") == []
    assert [m.id for m in index.search("pythn", k=1)] == ["1"]  # a typo still matches


def test_exact_label_ranks_first_and_is_flagged() -> None:
    index = SkillIndex(
        [
            IndexEntry("long", "sql database query optimisation for sql servers"),
            IndexEntry("short", "query languages", alt_labels=("SQL",)),
        ]
    )
    best = index.search("SQL", k=2)[0]
    assert (best.id, best.exact) == ("short", True)


def test_examples(production: SkillIndex) -> None:
    python = production.search("python dev", k=1)[0]
    assert production.entries[python.position].preferred_label == "Python (computer programming)"
    # ESCO v1.1.1 has no Kubernetes skill: the curated list leads to its containerisation one
    k8s = [production.entries[m.position].preferred_label for m in production.search("k8s", k=3)]
    assert "manage ICT virtualisation environments" in k8s
    js = production.search("js", k=3)
    assert "JavaScript" in [production.entries[m.position].preferred_label for m in js]


def test_batch_equals_single_queries(production: SkillIndex) -> None:
    queries = ["python dev", "welding", "project mgmt", "zzzz"]
    assert production.search_batch(queries, k=3) == [production.search(q, k=3) for q in queries]


def _recall(index: SkillIndex, sample: list[tuple[str, int]], k: int) -> float:
    results = index.search_batch([q for q, _ in sample], k=k)
    hits = sum(any(m.position == i for m in r) for r, (_, i) in zip(results, sample, strict=True))
    return hits / len(sample)


def test_quality_floor_on_held_out_alternative_labels(
    entries: list[IndexEntry], embedding: StaticEmbedding
) -> None:
    """Alternative labels are not in this index: Recall measures generalisation."""
    rng = random.Random(20_26)
    pairs = [(a, i) for i, e in enumerate(entries) for a in e.alt_labels]
    sample = rng.sample(pairs, 600)
    hybrid = SkillIndex(entries, embedding=embedding, alt_labels=False)
    lexical = SkillIndex(entries, alt_labels=False)
    hybrid_r1, hybrid_r5 = _recall(hybrid, sample, 1), _recall(hybrid, sample, 5)
    lexical_r1 = _recall(lexical, sample, 1)
    # measured on this sample: hybrid R@1 ~0.76, R@5 ~0.87; lexical R@1 ~0.72
    assert hybrid_r1 >= 0.70, hybrid_r1
    assert hybrid_r5 >= 0.82, hybrid_r5
    assert lexical_r1 >= 0.64, lexical_r1
    assert hybrid_r1 > lexical_r1  # the semantic tier earns its place


def test_any_encoder_can_be_the_semantic_tier() -> None:
    class Synonyms:
        """Maps 'attorney' and 'lawyer' onto the same axis: no letters shared."""

        def encode(self, texts: Sequence[str]) -> np.ndarray:
            rows = [[1.0, 0.0] if ("lawyer" in t or "attorney" in t) else [0.0, 1.0] for t in texts]
            return np.asarray(rows, dtype=np.float32)

    index = SkillIndex(
        [IndexEntry("law", "attorney"), IndexEntry("weld", "welding")],
        embedding=Synonyms(),
        lexical_weight=0.0,
    )
    assert index.search("lawyer", k=1, exhaustive=True)[0].id == "law"


def test_the_heavy_tier_says_what_to_install_when_missing() -> None:
    from merito.skills import heavy

    if importlib.util.find_spec("sentence_transformers") is not None:
        pytest.skip("sentence-transformers is installed here")
    with pytest.raises(ImportError, match="pip install sentence-transformers"):
        heavy.SentenceTransformerEncoder("all-MiniLM-L6-v2")
