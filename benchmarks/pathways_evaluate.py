"""Pathway evaluation: the pure evaluator on a typical and on a worst-case requirement tree.

Run: .venv/bin/python benchmarks/pathways_evaluate.py [--credentials N] [--repeat R]
Typical: ALL of 4 groups (N-of-M, hours) over 20 achievements, the learner holding N
credentials. Worst: the limits (200 nodes, 5 levels) with a ``within_days`` window on every
group (each window search re-evaluates its subtree once per candidate start). Prints the
median time per evaluation beside the floor measured in the same run: indexing the learner's
credentials by achievement (what any evaluation must at least do).
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from merito.domain.pathways import Held, evaluate, parse_requirement

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def leaf(a: str) -> dict[str, str]:
    return {"kind": "achievement", "achievement_id": a}


def typical() -> dict[str, Any]:
    groups = [
        {"kind": "n_of", "n": 3, "min_hours": 20, "children": [leaf(f"a{g}-{i}") for i in range(5)]}
        for g in range(4)
    ]
    return {"kind": "all", "within_days": 730, "children": groups}


def worst() -> dict[str, Any]:
    counter = [0]

    def group(depth: int) -> dict[str, Any]:
        children: list[dict[str, Any]] = []
        for _ in range(3 if depth < 4 else 2):
            if depth < 4 and counter[0] < 150:
                children.append(group(depth + 1))
            else:
                counter[0] += 1
                children.append(leaf(f"w{counter[0]}"))
        return {"kind": "n_of", "n": 1, "within_days": 90, "children": children}

    return group(1)


def timed(fn: Any, repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - started)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--credentials", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    for label, data in (("typical", typical()), ("worst", worst())):
        _run(label, data, credentials=args.credentials, repeat=args.repeat)


def _run(label: str, data: dict[str, Any], *, credentials: int, repeat: int) -> None:
    tree = parse_requirement(data)
    names = sorted(set(_leaves(data)))
    held = [
        Held(
            credential_id=f"urn:{i}",
            achievement_id=names[i % len(names)],
            issued_at=T0 + timedelta(days=7 * i),
        )
        for i in range(credentials)
    ]
    hours = dict.fromkeys(names, 8.0)

    def floor() -> None:
        index: dict[str, list[Held]] = {}
        for h in held:
            index.setdefault(h.achievement_id, []).append(h)
        for items in index.values():
            items.sort(key=lambda h: h.issued_at, reverse=True)

    base = timed(floor, repeat)
    spent = timed(lambda: evaluate(tree, held, hours=hours), repeat)
    print(
        f"{label}: {data_size(data)} nodes, {credentials} credentials: "
        f"{spent * 1e3:.3f} ms per evaluation ({1 / spent:,.0f}/s); "
        f"floor (index the credentials) {base * 1e6:.1f} us; ratio {spent / base:,.0f}x"
    )


def _leaves(node: dict[str, Any]) -> list[str]:
    if node["kind"] == "achievement":
        return [node["achievement_id"]]
    return [a for c in node["children"] for a in _leaves(c)]


def data_size(node: dict[str, Any]) -> int:
    return 1 + sum(data_size(c) for c in node.get("children", []))


if __name__ == "__main__":
    main()
