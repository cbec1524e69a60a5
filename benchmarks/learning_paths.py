"""Learning paths: the exact 0-1 program (HiGHS) beside the greedy heuristic, on ESCO gaps.

Run: .venv/bin/python benchmarks/learning_paths.py [--offerings N] [--gaps G]
N synthetic achievements over ESCO v1.1.1 (each proves 1-6 skills of one occupation, costs
5-80 hours, one in five needs an earlier achievement first); G gaps, each an occupation's
essential skills. Prints the median time of the exact solver beside the greedy one (the floor
in the same run) and how much dearer the greedy paths are.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from merito.services.skills import bundled_taxonomy
from merito.skills.paths import Offering, plan, plan_greedy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--offerings", type=int, default=2_000)
    parser.add_argument("--gaps", type=int, default=30)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    taxonomy = bundled_taxonomy()
    links: dict[str, dict[str, list[str]]] = {}
    for link in taxonomy.occupation_skills:
        links.setdefault(link.occupation_uri, {"essential": [], "optional": []})[
            link.relation
        ].append(link.skill_uri)
    occupations = sorted(u for u, o in links.items() if len(o["essential"]) >= 10)
    gaps = [
        links[occupations[int(i)]]["essential"] for i in rng.choice(len(occupations), args.gaps)
    ]
    # offerings cluster on the gaps' occupations (so paths exist) and the rest of ESCO
    pools = [g + links[occupations[int(rng.integers(len(occupations)))]]["essential"] for g in gaps]
    offerings: list[Offering] = []
    for n in range(args.offerings):
        pool = pools[n % len(pools)]
        skills = frozenset(rng.choice(pool, int(rng.integers(1, 7))).tolist())
        pre = (
            frozenset({offerings[int(rng.integers(n))].id})
            if n and rng.random() < 0.2
            else frozenset()
        )
        offerings.append(
            Offering(id=f"a{n}", cost=float(rng.integers(5, 81)), skills=skills, prerequisites=pre)
        )
    exact_ms, greedy_ms, ratios, sizes = [], [], [], []
    optimal = 0
    for gap in gaps:
        started = time.perf_counter()
        best = plan(gap, offerings)
        exact_ms.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        quick = plan_greedy(gap, offerings)
        greedy_ms.append((time.perf_counter() - started) * 1000)
        optimal += best.optimal
        sizes.append(len(best.covered))
        if best.total_cost > 0:
            ratios.append(quick.total_cost / best.total_cost)
    exact, greedy = statistics.median(exact_ms), statistics.median(greedy_ms)
    print(
        f"{args.offerings:,} offerings, {len(gaps)} gaps of {statistics.median(sizes):.0f} "
        f"coverable skills (median); {optimal}/{len(gaps)} proved optimal"
    )
    print(
        f"exact (HiGHS): median {exact:.1f} ms, max {max(exact_ms):.1f} ms; "
        f"floor: greedy {greedy:.1f} ms -> ratio {exact / greedy:.1f}x"
    )
    print(
        f"greedy paths cost {100 * (statistics.mean(ratios) - 1):.1f}% more on average "
        f"(worst {100 * (max(ratios) - 1):.1f}%)"
    )


if __name__ == "__main__":
    main()
