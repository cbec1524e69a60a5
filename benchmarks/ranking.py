"""Candidate ranking at scale: one role query over 1,000,000 candidates and ESCO's skill space.

Run: .venv/bin/python benchmarks/ranking.py [--candidates N] [--queries Q] [--k K]
Builds N synthetic candidates over ESCO v1.1.1's skills (each holds a random occupation's
skills, with levels, plus unrelated ones), then ranks Q roles made from occupations' essential
(required) and optional skills, with one-hop hierarchy partial credit and minimum levels.
Prints the median query time (goal: < 200 ms for 1M candidates) beside two floors from the same
run: a raw scipy CSR mat-vec over the whole matrix (same shape and nnz) and numpy argpartition
over N floats; the index's memory and the process's peak RSS.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from scipy import sparse

sys.path.insert(0, str(Path(__file__).parent))

from merito.services.skills import bundled_taxonomy
from merito.skills.ranking import CandidateIndex, Requirement, SkillSpace, rank


def synthetic_index(
    space: SkillSpace, occupations: list[np.ndarray], n: int, rng: np.random.Generator
) -> CandidateIndex:
    """n candidates, each ~8-24 skills of one occupation and 0-4 random ones, levels in (0.2, 1]."""
    occ = rng.integers(0, len(occupations), n)
    lengths = np.array([len(o) for o in occupations])
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    flat = np.concatenate(occupations)
    own = rng.integers(8, 25, n)
    noise = rng.integers(0, 5, n)
    rows = np.concatenate([np.repeat(np.arange(n), own), np.repeat(np.arange(n), noise)])
    picks = (rng.random(int(own.sum())) * np.repeat(lengths[occ], own)).astype(np.int64)
    cols = np.concatenate(
        [flat[np.repeat(starts[occ], own) + picks], rng.integers(0, len(space), int(noise.sum()))]
    )
    levels = rng.uniform(0.2, 1.0, len(rows)).astype(np.float32)
    matrix = sparse.csc_array((levels, (rows, cols)), shape=(n, len(space)))
    matrix.data = np.minimum(matrix.data, 1.0)  # duplicates summed: a skill held twice
    return CandidateIndex(space, matrix, ids=range(n))  # type: ignore[arg-type]


def median_ms(fn, repeat: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--candidates", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=15)
    parser.add_argument("--k", type=int, default=50)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)

    taxonomy = bundled_taxonomy()
    skills = [s for s in taxonomy.skills if s.kind == "skill"]
    broader = [(s.uri, b) for s in taxonomy.skills for b in s.broader]
    started = time.perf_counter()
    space = SkillSpace([s.uri for s in taxonomy.skills], broader)
    space_ms = (time.perf_counter() - started) * 1000
    by_occ: dict[str, dict[str, list[str]]] = {}
    for link in taxonomy.occupation_skills:
        by_occ.setdefault(link.occupation_uri, {"essential": [], "optional": []})[
            link.relation
        ].append(link.skill_uri)
    occs = [o for o in by_occ.values() if len(o["essential"]) >= 5]
    occupations = [
        np.array([space.index[u] for u in o["essential"] + o["optional"]], np.int64) for o in occs
    ]

    started = time.perf_counter()
    index = synthetic_index(space, occupations, args.candidates, rng)
    build_s = time.perf_counter() - started
    nnz = index.matrix.nnz
    print(
        f"ESCO space: {len(skills):,} skills + {len(space) - len(skills):,} groups, "
        f"{len(space.broader_pairs):,} broader links (space built in {space_ms:.0f} ms)"
    )
    print(
        f"candidates: {len(index):,}, nnz {nnz:,} ({nnz / len(index):.1f} skills each), "
        f"index {index.nbytes / 2**20:.0f} MiB, built in {build_s:.1f} s"
    )

    roles = []
    for _ in range(args.queries):
        o = occs[int(rng.integers(0, len(occs)))]
        required = [Requirement(skill=u, min_level=0.3) for u in o["essential"][:20]]
        optional = [Requirement(skill=u, required=False, weight=0.5) for u in o["optional"][:8]]
        roles.append(required + optional)
    # warm up (page in the matrix)
    rank(index, roles[0], k=args.k)
    times = []
    for role in roles:
        started = time.perf_counter()
        top = rank(index, role, k=args.k)
        times.append((time.perf_counter() - started) * 1000)
    query_ms = statistics.median(times)

    csr = index.matrix.tocsr()
    vector = rng.random(len(space)).astype(np.float32)
    matvec_ms = median_ms(lambda: csr @ vector, 5)
    scores = rng.random(len(index)).astype(np.float32)
    argpartition_ms = median_ms(lambda: np.argpartition(-scores, args.k - 1)[: args.k], 5)
    requirements = statistics.mean(len(r) for r in roles)
    print(
        f"rank one role ({requirements:.0f} requirements, top {args.k}): "
        f"median {query_ms:.1f} ms, p90 {np.percentile(times, 90):.1f} ms over {len(roles)} roles "
        f"(goal < 200 ms); best score {top[0].score:.3f}"
    )
    print(
        f"floor: full CSR mat-vec {matvec_ms:.1f} ms -> ratio {query_ms / matvec_ms:.2f}x; "
        f"argpartition over {len(index):,} floats {argpartition_ms:.1f} ms "
        f"-> ratio {query_ms / argpartition_ms:.1f}x"
    )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"memory: index {index.nbytes / 2**20:.0f} MiB, peak RSS {peak:.0f} MiB")


if __name__ == "__main__":
    main()
