"""Learning paths: exact min-cost cover with prerequisites, the greedy fallback, ordering."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from merito.skills.paths import LearningPath, Offering, plan, plan_greedy


def o(id: str, cost: float, *skills: str, pre: tuple[str, ...] = ()) -> Offering:
    return Offering(id=id, cost=cost, skills=frozenset(skills), prerequisites=frozenset(pre))


def ids(path: LearningPath) -> list[str]:
    return [s.offering.id for s in path.steps]


def test_the_exact_solution_beats_the_greedy_trap() -> None:
    # greedy takes the best ratio first (4 skills for 4), then the cheap singles for e and f
    # (total 8); the optimum is the two halves (6.6), which no pruning of greedy's pick reaches
    offerings = [
        o("big", 4, "a", "b", "c", "d"),
        o("left", 3.3, "a", "b", "e"),
        o("right", 3.3, "c", "d", "f"),
        o("e", 2, "e"),
        o("f", 2, "f"),
    ]
    gap = {"a", "b", "c", "d", "e", "f"}
    best = plan(gap, offerings)
    assert best.method == "milp"
    assert best.optimal
    assert sorted(ids(best)) == ["left", "right"]
    assert best.total_cost == pytest.approx(6.6)
    greedy = plan_greedy(gap, offerings)
    assert sorted(ids(greedy)) == ["big", "e", "f"]
    assert greedy.total_cost == pytest.approx(8)


def test_prerequisites_are_included_and_come_first() -> None:
    offerings = [
        o("advanced", 2, "x", pre=("intro",)),
        o("intro", 1, "basics"),
        o("other", 10, "x"),
    ]
    path = plan({"x"}, offerings)
    assert ids(path) == ["intro", "advanced"]
    assert path.total_cost == 3
    assert path.covered == {"x"}


def test_a_held_prerequisite_is_not_offered_again() -> None:
    offerings = [o("advanced", 2, "x", pre=("intro",)), o("intro", 1, "basics")]
    path = plan({"x"}, offerings, held={"intro"})
    assert ids(path) == ["advanced"]


def test_uncoverable_skills_and_unavailable_offerings_are_reported() -> None:
    offerings = [
        o("a", 1, "x", pre=("b",)),
        o("b", 1, "y", pre=("a",)),  # a cycle: neither can ever be started
        o("c", 1, "z", pre=("missing",)),
        o("d", 2, "w"),
    ]
    path = plan({"x", "z", "w", "nowhere"}, offerings)
    assert ids(path) == ["d"]
    assert path.uncoverable == {"x", "z", "nowhere"}
    assert path.unavailable == {"a", "b", "c"}
    assert path.coverage == pytest.approx(0.25)


def test_free_offerings_that_add_nothing_are_left_out() -> None:
    path = plan({"x"}, [o("free", 0, "y"), o("paid", 3, "x"), o("free-x", 0, "x")])
    assert ids(path) == ["free-x"]


def test_nothing_missing_gives_an_empty_path() -> None:
    path = plan(set(), [o("a", 1, "x")])
    assert path.steps == ()
    assert path.method == "none"
    assert path.coverage == 1.0


def test_above_the_exact_limit_the_greedy_answers() -> None:
    path = plan({"x", "y"}, [o("a", 1, "x"), o("b", 1, "y")], exact_limit=1)
    assert path.method == "greedy"
    assert not path.optimal
    assert path.covered == {"x", "y"}


def _feasible(path: LearningPath, gap: set[str], held: set[str]) -> bool:
    done = set(held)
    covered: set[str] = set()
    for step in path.steps:
        if not step.offering.prerequisites <= done:
            return False
        done.add(step.offering.id)
        covered |= step.offering.skills
    return (gap - path.uncoverable) <= covered


def _brute_force(gap: set[str], offerings: list[Offering], held: set[str]) -> float | None:
    coverable = {s for s in gap if any(s in x.skills for x in offerings)}
    best: float | None = None
    for n in range(len(offerings) + 1):
        for combo in itertools.combinations(offerings, n):
            chosen = {x.id for x in combo}
            if any(not x.prerequisites <= chosen | held for x in combo):
                continue
            if coverable <= set().union(*(x.skills for x in combo)):
                cost = sum(x.cost for x in combo)
                best = cost if best is None else min(best, cost)
    return best


names = [f"a{i}" for i in range(7)]
skill_names = st.sampled_from(list("pqrstuvw"))


@st.composite
def instances(draw: st.DrawFn) -> tuple[set[str], list[Offering]]:
    n = draw(st.integers(1, 7))
    offerings = []
    for i in range(n):
        # prerequisites only on earlier offerings: acyclic, so brute force is simple
        pre = draw(st.sets(st.sampled_from(names[:i]), max_size=2)) if i else set()
        offerings.append(
            Offering(
                id=names[i],
                cost=draw(st.integers(0, 20)),
                skills=frozenset(draw(st.sets(skill_names, min_size=1, max_size=4))),
                prerequisites=frozenset(pre),
            )
        )
    gap = draw(st.sets(skill_names, min_size=1, max_size=6))
    return gap, offerings


@settings(max_examples=120, deadline=None)
@given(instances())
def test_milp_is_feasible_optimal_and_never_worse_than_greedy(
    instance: tuple[set[str], list[Offering]],
) -> None:
    gap, offerings = instance
    exact = plan(gap, offerings)
    greedy = plan_greedy(gap, offerings)
    assert _feasible(exact, gap, set())
    assert _feasible(greedy, gap, set())
    assert exact.covered == greedy.covered == gap - exact.uncoverable
    assert exact.total_cost <= greedy.total_cost + 1e-9
    optimum = _brute_force(gap - exact.uncoverable, offerings, set())
    assert optimum is not None
    assert exact.total_cost == pytest.approx(optimum)
