"""Matching quality: does a role built from an ESCO occupation retrieve that occupation's people?

Run: .venv/bin/python benchmarks/matching_quality.py [--per-occupation G] [--queries Q]
For every ESCO v1.1.1 occupation with at least 5 essential skills, G synthetic candidates hold
its essential skills with noise: each skill dropped with probability 0.3, 5 unrelated skills
added (uniform over the skills pillar), levels uniform in [0.6, 1]. Q occupations are then
queried as roles (their essential skills, required) against the whole pool; the relevant
results are that occupation's G candidates. Prints MAP, MRR and Recall@10 (goal >= 0.9) for
the ranking (hierarchy partial credit) with uniform weights and with the specificity weights
a role prefilled from an occupation gets (``merito.skills.ranking.specificity``), beside the
floor of a plain count of shared skills in the same run, and the random-ranking expectation.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from scipy import sparse

sys.path.insert(0, str(Path(__file__).parent))

from merito.services.skills import bundled_taxonomy
from merito.skills.ranking import CandidateIndex, Requirement, SkillSpace, rank, specificity


def metrics(
    ranked: list[list[int]], relevant: list[set[int]], k: int
) -> tuple[float, float, float]:
    """MAP (over the full ranking), MRR and Recall@k."""
    ap, rr, recall = [], [], []
    for order, rel in zip(ranked, relevant, strict=True):
        hits, precision_sum, first = 0, 0.0, 0.0
        for i, row in enumerate(order, start=1):
            if row in rel:
                hits += 1
                precision_sum += hits / i
                if not first:
                    first = 1.0 / i
        ap.append(precision_sum / len(rel))
        rr.append(first)
        recall.append(len(set(order[:k]) & rel) / len(rel))
    return float(np.mean(ap)), float(np.mean(rr)), float(np.mean(recall))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--per-occupation", type=int, default=5)
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--drop", type=float, default=0.3)
    parser.add_argument("--noise", type=int, default=5)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)

    taxonomy = bundled_taxonomy()
    space = SkillSpace(
        [s.uri for s in taxonomy.skills], [(s.uri, b) for s in taxonomy.skills for b in s.broader]
    )
    pillar = np.array([space.index[s.uri] for s in taxonomy.skills if s.kind == "skill"])
    links: dict[str, dict[str, list[str]]] = {}
    for link in taxonomy.occupation_skills:
        links.setdefault(link.occupation_uri, {"essential": [], "optional": []})[
            link.relation
        ].append(link.skill_uri)
    occupations = sorted(u for u, o in links.items() if len(o["essential"]) >= 5)

    rows: list[int] = []
    cols: list[int] = []
    owner: list[int] = []
    for o, uri in enumerate(occupations):
        essential = np.array([space.index[s] for s in links[uri]["essential"]])
        for _ in range(args.per_occupation):
            kept = essential[rng.random(len(essential)) >= args.drop]
            held = np.unique(np.concatenate([kept, rng.choice(pillar, args.noise)]))
            rows += [len(owner)] * len(held)
            cols += held.tolist()
            owner.append(o)
    levels = rng.uniform(0.6, 1.0, len(rows)).astype(np.float32)
    matrix = sparse.csc_array((levels, (rows, cols)), shape=(len(owner), len(space)))
    index = CandidateIndex(space, matrix, [str(i) for i in range(len(owner))])
    binary = (matrix > 0).astype(np.float32).tocsr()
    owners = np.array(owner)

    essential_in: dict[str, int] = {}
    for o in links.values():
        for skill in o["essential"]:
            essential_in[skill] = essential_in.get(skill, 0) + 1
    queried = rng.choice(len(occupations), min(args.queries, len(occupations)), replace=False)
    uniform: list[list[int]] = []
    weighted: list[list[int]] = []
    floor: list[list[int]] = []
    relevant: list[set[int]] = []
    started = time.perf_counter()
    for o in queried:
        essential = links[occupations[o]]["essential"]
        plain = [Requirement(skill=s) for s in essential]
        uniform.append([r.row for r in rank(index, plain, k=len(owner))])
        specific = [
            Requirement(skill=s, weight=specificity(essential_in[s], len(links))) for s in essential
        ]
        weighted.append([r.row for r in rank(index, specific, k=len(owner))])
        wanted = np.zeros(len(space), np.float32)
        wanted[[space.index[s] for s in essential]] = 1.0
        shared = binary @ wanted
        order = np.lexsort((np.arange(len(owner)), -shared))
        floor.append([int(r) for r in order if shared[r] > 0])
        relevant.append({int(r) for r in np.flatnonzero(owners == o)})
    elapsed = time.perf_counter() - started

    print(
        f"pool: {len(owner):,} candidates from {len(occupations):,} occupations "
        f"({args.per_occupation} each; drop {args.drop:.0%}, {args.noise} unrelated skills), "
        f"{len(queried)} role queries in {elapsed:.1f} s"
    )
    for name, ranked in (
        ("ranking, specificity weights (occupation prefill)", weighted),
        ("ranking, uniform weights", uniform),
        ("floor: count of shared essential skills", floor),
    ):
        m, r, rec = metrics(ranked, relevant, args.k)
        print(f"{name:50s} MAP {m:.3f}  MRR {r:.3f}  Recall@{args.k} {rec:.3f}")
    print(
        f"{'random ranking (expected)':50s} Recall@{args.k} "
        f"{args.k / len(owner):.4f}   goal: Recall@{args.k} >= 0.9"
    )


if __name__ == "__main__":
    main()
