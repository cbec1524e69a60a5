"""Learning paths: the cheapest set of achievements covering a skill gap, in a valid order.

The model is a weighted set cover with precedence, solved exactly as a 0-1 integer program:

    minimise    sum_a cost_a x_a
    subject to  sum_{a covers s} x_a >= 1     for every coverable missing skill s
                x_a <= x_p                    for every prerequisite p of a (not yet held)
                x_a in {0, 1}

with HiGHS (``scipy.optimize.milp``). A tiny per-item term breaks ties toward fewer
achievements, so a free achievement that covers nothing new is never added. Above
``exact_limit`` offerings (or when HiGHS stops on its time limit) a greedy heuristic answers:
repeatedly take the offering whose cost, prerequisites included, per newly covered skill is
lowest, then drop any chosen item the rest make redundant.

An offering is available when every prerequisite is held already or is itself available;
prerequisite cycles and unknown prerequisites make an offering unavailable. A missing skill no
available offering covers is reported as uncoverable, never silently dropped. The chosen
achievements come back in topological order (prerequisites first).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp

__all__ = [
    "DEFAULT_EXACT_LIMIT",
    "LearningPath",
    "Offering",
    "Step",
    "plan",
    "plan_greedy",
]

#: above this many candidate offerings the greedy heuristic answers
DEFAULT_EXACT_LIMIT: Final = 5_000
_TIME_LIMIT_S: Final = 5.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Offering:
    """An achievement a learner could earn: its cost (hours or price) and the skills it proves."""

    id: str
    cost: float
    skills: frozenset[str]
    prerequisites: frozenset[str] = frozenset()
    name: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Step:
    offering: Offering
    #: the missing skills this step is the first to cover
    covers: frozenset[str]


@dataclass(frozen=True, slots=True, kw_only=True)
class LearningPath:
    steps: tuple[Step, ...]
    total_cost: float
    #: the missing skills the path covers, and those no available offering covers
    covered: frozenset[str]
    uncoverable: frozenset[str]
    method: Literal["milp", "greedy", "none"]
    #: True when the solver proved the path cheapest
    optimal: bool
    unavailable: frozenset[str] = field(default_factory=frozenset)

    @property
    def coverage(self) -> float:
        wanted = len(self.covered) + len(self.uncoverable)
        return 1.0 if wanted == 0 else len(self.covered) / wanted


def _available(offerings: Mapping[str, Offering], held: frozenset[str]) -> set[str]:
    """Offerings whose prerequisites are all held or available (no cycles, none unknown).

    Kahn's algorithm: what is never released sits on a cycle or behind an unknown prerequisite.
    """
    pending: dict[str, int] = {}
    dependants: dict[str, list[str]] = {}
    blocked: set[str] = set()
    for a, o in offerings.items():
        needs = o.prerequisites - held
        if any(p not in offerings for p in needs):
            blocked.add(a)
        pending[a] = len(needs)
        for p in needs:
            dependants.setdefault(p, []).append(a)
    ready = [a for a, n in pending.items() if n == 0 and a not in blocked]
    out: set[str] = set()
    while ready:
        a = ready.pop()
        out.add(a)
        for b in dependants.get(a, ()):
            pending[b] -= 1
            if pending[b] == 0 and b not in blocked:
                ready.append(b)
    return out


def _closure(a: str, offerings: Mapping[str, Offering], held: frozenset[str]) -> set[str]:
    out: set[str] = set()
    todo = [a]
    while todo:
        node = todo.pop()
        if node in out:
            continue
        out.add(node)
        todo.extend(offerings[node].prerequisites - held)
    return out


def _ordered(
    chosen: Iterable[str], offerings: Mapping[str, Offering], held: frozenset[str]
) -> list[str]:
    """Kahn's algorithm; ties by cost then id, so the order is deterministic."""
    chosen = set(chosen)
    indegree = {a: len((offerings[a].prerequisites - held) & chosen) for a in chosen}
    dependants: dict[str, list[str]] = {a: [] for a in chosen}
    for a in chosen:
        for p in offerings[a].prerequisites - held:
            if p in chosen:
                dependants[p].append(a)
    ready = sorted((a for a, d in indegree.items() if d == 0), key=lambda a: (offerings[a].cost, a))
    out: list[str] = []
    while ready:
        a = ready.pop(0)
        out.append(a)
        for b in dependants[a]:
            indegree[b] -= 1
            if indegree[b] == 0:
                ready.append(b)
        ready.sort(key=lambda x: (offerings[x].cost, x))
    return out


def _path(
    chosen: Iterable[str],
    problem: _Problem,
    *,
    method: Literal["milp", "greedy", "none"],
    optimal: bool,
) -> LearningPath:
    offerings, gap = problem.offerings, problem.gap
    steps: list[Step] = []
    seen: set[str] = set()
    total = 0.0
    for a in _ordered(chosen, offerings, problem.held):
        offering = offerings[a]
        new = (offering.skills & gap) - seen
        seen |= new
        total += offering.cost
        steps.append(Step(offering=offering, covers=frozenset(new)))
    return LearningPath(
        steps=tuple(steps),
        total_cost=total,
        covered=frozenset(seen),
        uncoverable=problem.uncoverable,
        method=method,
        optimal=optimal,
        unavailable=problem.unavailable,
    )


@dataclass(frozen=True, slots=True)
class _Problem:
    offerings: dict[str, Offering]
    candidates: list[str]
    gap: frozenset[str]
    coverable: frozenset[str]
    uncoverable: frozenset[str]
    unavailable: frozenset[str]
    held: frozenset[str]


def _problem(
    missing: Iterable[str], offerings: Sequence[Offering], held: Iterable[str]
) -> _Problem:
    held_set = frozenset(held)
    by_id: dict[str, Offering] = {}
    for o in offerings:
        if o.cost < 0 or not np.isfinite(o.cost):
            raise ValueError(f"offering {o.id!r} has cost {o.cost!r}; costs are finite and >= 0")
        by_id.setdefault(o.id, o)
    gap = frozenset(missing)
    available = _available({a: o for a, o in by_id.items() if a not in held_set}, held_set)
    unavailable = frozenset(a for a in by_id if a not in held_set and a not in available)
    # offerings proving a missing skill, and whatever they need first
    useful = {a for a in available if by_id[a].skills & gap}
    candidates: set[str] = set()
    for a in useful:
        candidates |= _closure(a, by_id, held_set)
    coverable = frozenset(s for s in gap if any(s in by_id[a].skills for a in useful))
    return _Problem(
        offerings=by_id,
        candidates=sorted(candidates),
        gap=gap,
        coverable=coverable,
        uncoverable=gap - coverable,
        unavailable=unavailable,
        held=held_set,
    )


def _tie_break(problem: _Problem) -> float:
    costs = [problem.offerings[a].cost for a in problem.candidates]
    # small against any real cost difference: below 1e-6 of the whole cost scale
    scale = max(1.0, float(sum(costs)))
    return scale * 1e-7 / max(1, len(costs))


def _greedy(problem: _Problem) -> list[str]:
    by_id, held = problem.offerings, problem.held
    uncovered = set(problem.coverable)
    chosen: set[str] = set()
    closures = {a: _closure(a, by_id, held) for a in problem.candidates}
    while uncovered:
        best: tuple[float, int, str] | None = None
        for a in problem.candidates:
            if a in chosen:
                continue
            bundle = closures[a] - chosen
            gained = sum(len(by_id[b].skills & uncovered) for b in bundle)
            if gained == 0:
                continue
            covered = set().union(*(by_id[b].skills for b in bundle)) & uncovered
            cost = sum(by_id[b].cost for b in bundle)
            key = (cost / len(covered), len(bundle), a)
            if best is None or key < best:
                best = key
        if best is None:  # pragma: no cover - coverable skills always have an offering
            break
        bundle = closures[best[2]] - chosen
        chosen |= bundle
        for b in bundle:
            uncovered -= by_id[b].skills
    return sorted(_pruned(chosen, problem))


def _pruned(chosen: set[str], problem: _Problem) -> set[str]:
    """Drops, dearest first, any item that neither covers a needed skill alone nor is needed."""
    by_id, held = problem.offerings, problem.held
    kept = set(chosen)
    for a in sorted(chosen, key=lambda x: (-by_id[x].cost, x)):
        rest = kept - {a}
        if any(a in by_id[b].prerequisites - held for b in rest):
            continue
        covered: set[str] = set()
        for b in rest:
            covered |= by_id[b].skills
        if problem.coverable <= covered:
            kept = rest
    return kept


def _milp(problem: _Problem) -> tuple[list[str], bool] | None:
    by_id, held = problem.offerings, problem.held
    names = problem.candidates
    col = {a: j for j, a in enumerate(names)}
    skills = sorted(problem.coverable)
    row = {s: i for i, s in enumerate(skills)}
    cover_r: list[int] = []
    cover_c: list[int] = []
    for a in names:
        for s in by_id[a].skills & problem.coverable:
            cover_r.append(row[s])
            cover_c.append(col[a])
    pre_r: list[int] = []
    pre_c: list[int] = []
    pre_v: list[float] = []
    n_pre = 0
    for a in names:
        for p in sorted(by_id[a].prerequisites - held):
            # x_a - x_p <= 0
            pre_r += [n_pre, n_pre]
            pre_c += [col[a], col[p]]
            pre_v += [1.0, -1.0]
            n_pre += 1
    constraints = [
        LinearConstraint(
            sparse.csr_array(
                (np.ones(len(cover_r)), (cover_r, cover_c)), shape=(len(skills), len(names))
            ),
            lb=np.ones(len(skills)),
            ub=np.full(len(skills), np.inf),
        )
    ]
    if n_pre:
        constraints.append(
            LinearConstraint(
                sparse.csr_array((pre_v, (pre_r, pre_c)), shape=(n_pre, len(names))),
                lb=np.full(n_pre, -np.inf),
                ub=np.zeros(n_pre),
            )
        )
    eps = _tie_break(problem)
    c = np.array([by_id[a].cost + eps for a in names])
    result = milp(
        c,
        constraints=constraints,
        integrality=np.ones(len(names), dtype=np.int8),
        bounds=Bounds(0, 1),
        options={"time_limit": _TIME_LIMIT_S, "presolve": True},
    )
    if result.x is None:
        return None
    chosen = [a for a, v in zip(names, result.x, strict=True) if v > 0.5]
    return chosen, bool(result.status == 0)


def plan(
    missing: Iterable[str],
    offerings: Sequence[Offering],
    *,
    held: Iterable[str] = (),
    exact_limit: int = DEFAULT_EXACT_LIMIT,
) -> LearningPath:
    """The cheapest path covering every coverable skill of ``missing``.

    ``held``: achievements the learner already has (their prerequisites are met, they are not
    offered again).
    """
    problem = _problem(missing, offerings, held)
    if not problem.coverable:
        return _path([], problem, method="none", optimal=True)
    if len(problem.candidates) <= exact_limit:
        solved = _milp(problem)
        if solved is not None:
            chosen, optimal = solved
            if optimal:
                return _path(chosen, problem, method="milp", optimal=True)
            # stopped on the time limit with a feasible point: keep the better of the two
            greedy = _greedy(problem)
            if _cost(chosen, problem) <= _cost(greedy, problem):
                return _path(chosen, problem, method="milp", optimal=False)
            return _path(greedy, problem, method="greedy", optimal=False)
    return _path(_greedy(problem), problem, method="greedy", optimal=False)


def plan_greedy(
    missing: Iterable[str], offerings: Sequence[Offering], *, held: Iterable[str] = ()
) -> LearningPath:
    """The greedy heuristic alone (what ``plan`` falls back to on huge instances)."""
    problem = _problem(missing, offerings, held)
    if not problem.coverable:
        return _path([], problem, method="none", optimal=True)
    return _path(_greedy(problem), problem, method="greedy", optimal=False)


def _cost(chosen: Iterable[str], problem: _Problem) -> float:
    return float(sum(problem.offerings[a].cost for a in chosen))
