"""The pure pathway model: parsing limits, N-of-M, hours, windows, progress; property tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from merito.domain.pathways import (
    Group,
    Held,
    Leaf,
    achievements_of,
    evaluate,
    find_cycle,
    parse_requirement,
    requirement_json,
    validate,
)
from merito.errors import InvalidInput

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def leaf(a: str) -> dict[str, str]:
    return {"kind": "achievement", "achievement_id": a}


def held(a: str, days: float = 0) -> Held:
    return Held(
        credential_id=f"urn:{a}:{days}", achievement_id=a, issued_at=T0 + timedelta(days=days)
    )


def test_n_of_m_boundaries() -> None:
    tree = parse_requirement(
        {"kind": "n_of", "n": 2, "children": [leaf("a"), leaf("b"), leaf("c")]}
    )
    assert not evaluate(tree, [held("a")], hours={}).satisfied
    two = evaluate(tree, [held("a"), held("c")], hours={})
    assert two.satisfied
    assert two.done == 2
    assert [h.achievement_id for h in two.credentials()] == ["a", "c"]
    assert two.left() == []
    one = evaluate(tree, [held("b")], hours={})
    assert one.left() == ["a", "c"]
    assert (one.leaves_done, one.leaves_total) == (1, 3)


def test_min_hours_counts_satisfied_children_only() -> None:
    tree = parse_requirement(
        {
            "kind": "any",
            "min_hours": 30,
            "children": [leaf("a"), {"kind": "all", "children": [leaf("b"), leaf("c")]}],
        }
    )
    hours = {"a": 10.0, "b": 15.0, "c": 15.0}
    # b alone: its group is not satisfied, so its hours do not count
    partial = evaluate(tree, [held("a"), held("b")], hours=hours)
    assert not partial.satisfied
    assert partial.hours == 10
    assert partial.hours_short == 20
    full = evaluate(tree, [held("a"), held("b"), held("c")], hours=hours)
    assert full.satisfied
    assert full.hours == 40
    # exactly the minimum is enough
    exact = parse_requirement({"kind": "all", "min_hours": 25, "children": [leaf("a"), leaf("b")]})
    assert evaluate(exact, [held("a"), held("b")], hours=hours).satisfied


def test_within_days_picks_the_best_window() -> None:
    tree = parse_requirement({"kind": "all", "within_days": 30, "children": [leaf("a"), leaf("b")]})
    assert not evaluate(tree, [held("a", 0), held("b", 31)], hours={}).satisfied
    assert evaluate(tree, [held("a", 0), held("b", 30)], hours={}).satisfied  # inclusive
    # an older credential of "a" is out of the window; a newer one makes it
    result = evaluate(tree, [held("a", 0), held("b", 100), held("a", 90)], hours={})
    assert result.satisfied
    assert result.window is not None
    assert result.window[0] == T0 + timedelta(days=90)
    assert {h.credential_id for h in result.credentials()} == {"urn:a:90", "urn:b:100"}


def test_earned_after_filters() -> None:
    tree = parse_requirement({"kind": "all", "earned_after": "2026-01-10", "children": [leaf("a")]})
    assert not evaluate(tree, [held("a", 5)], hours={}).satisfied
    assert evaluate(tree, [held("a", 9)], hours={}).satisfied  # 10 Jan 00:00 is day 9


def test_nested_window_inside_a_wider_one() -> None:
    tree = parse_requirement(
        {
            "kind": "all",
            "within_days": 365,
            "children": [
                leaf("a"),
                {"kind": "all", "within_days": 7, "children": [leaf("b"), leaf("c")]},
            ],
        }
    )
    assert evaluate(tree, [held("a", 0), held("b", 100), held("c", 106)], hours={}).satisfied
    assert not evaluate(tree, [held("a", 0), held("b", 100), held("c", 108)], hours={}).satisfied
    assert not evaluate(tree, [held("a", 0), held("b", 400), held("c", 401)], hours={}).satisfied


@pytest.mark.parametrize(
    ("data", "prop"),
    [
        ({"kind": "n_of", "n": 3, "children": [leaf("a"), leaf("b")]}, "requirement.n"),
        ({"kind": "n_of", "children": [leaf("a")]}, "requirement.n"),
        ({"kind": "all", "n": 1, "children": [leaf("a")]}, "requirement.n"),
        (
            {"kind": "all", "children": [leaf("a"), leaf("a")]},
            "requirement.children[1].achievement_id",
        ),
        ({"kind": "all", "children": "a"}, "requirement.children"),
        ({"kind": "all", "children": [leaf("a")], "extra": 1}, "requirement.extra"),
        ({"kind": "all", "min_hours": -1, "children": [leaf("a")]}, "requirement.min_hours"),
        ({"kind": "all", "min_hours": True, "children": [leaf("a")]}, "requirement.min_hours"),
        ({"kind": "all", "within_days": 1.5, "children": [leaf("a")]}, "requirement.within_days"),
        (
            {"kind": "all", "earned_after": "2026-01-01T00:00:00", "children": [leaf("a")]},
            "requirement.earned_after",
        ),
        (
            {"kind": "all", "children": [{"kind": "achievement"}]},
            "requirement.children[0].achievement_id",
        ),
        ([], "requirement"),
    ],
)
def test_bad_trees_name_the_property(data: Any, prop: str) -> None:
    with pytest.raises(InvalidInput) as e:
        parse_requirement(data)
    assert e.value.property == prop


def test_size_limits() -> None:
    wide = {"kind": "all", "children": [leaf(str(i)) for i in range(51)]}
    with pytest.raises(InvalidInput, match="more than 50"):
        parse_requirement(wide)
    many = {
        "kind": "all",
        "children": [
            {"kind": "all", "children": [leaf(f"{i}-{j}") for j in range(40)]} for i in range(6)
        ],
    }
    with pytest.raises(InvalidInput, match="more than 200 nodes"):
        parse_requirement(many)


def test_validate_known_and_hours() -> None:
    tree = parse_requirement({"kind": "all", "min_hours": 10, "children": [leaf("a"), leaf("b")]})
    validate(tree, known={"a": 5, "b": 5})
    with pytest.raises(InvalidInput) as e:
        validate(tree, known={"a": 5})
    assert e.value.property == "requirement.children[1].achievement_id"
    with pytest.raises(InvalidInput) as e:
        validate(tree, known={"a": 5, "b": None})
    assert e.value.property == "requirement.min_hours"


def test_find_cycle() -> None:
    assert find_cycle({"p": {"a", "b"}, "q": {"p"}}) is None
    assert find_cycle({"p": {"q"}, "q": {"r"}, "r": {"p"}}) == ["p", "q", "r", "p"]
    assert find_cycle({"p": {"p"}}) == ["p", "p"]


# --- properties -----------------------------------------------------------------------------------

NAMES = [f"a{i}" for i in range(8)]


@st.composite
def trees(draw: st.DrawFn, depth: int = 0) -> dict[str, Any]:
    pool: list[str] = draw(st.permutations(NAMES))
    return _tree(draw, pool, depth)


def _tree(draw: st.DrawFn, pool: list[str], depth: int) -> dict[str, Any]:
    size = draw(st.integers(1, 3))
    children: list[dict[str, Any]] = []
    for _ in range(size):
        if not pool:
            break
        if depth < 2 and len(pool) > 1 and draw(st.booleans()):
            children.append(_tree(draw, pool, depth + 1))
        else:
            children.append(leaf(pool.pop()))
    if not children:
        children.append(
            leaf(pool.pop()) if pool else leaf(f"x{depth}-{draw(st.integers(0, 10**6))}")
        )
    kind = draw(st.sampled_from(["all", "any", "n_of"]))
    node: dict[str, Any] = {"kind": kind, "children": children}
    if kind == "n_of":
        node["n"] = draw(st.integers(1, len(children)))
    return node


@settings(max_examples=60, deadline=None)
@given(trees(), st.sets(st.sampled_from(NAMES)))
def test_round_trip_and_monotonic(data: dict[str, Any], names: set[str]) -> None:
    tree = parse_requirement(data)
    assert parse_requirement(requirement_json(tree)) == tree
    some = [held(n) for n in sorted(names)]
    everything = [held(n) for n in achievements_of(tree)]
    result = evaluate(tree, some, hours={})
    # holding every constituent satisfies any tree without hours or windows
    assert evaluate(tree, everything, hours={}).satisfied
    # adding a credential never undoes satisfaction
    more = evaluate(tree, [*some, *everything[:1]], hours={})
    assert more.satisfied or not result.satisfied
    # done + left partitions nothing away: every leaf is done or listed as left (when unsatisfied)
    if not result.satisfied:
        assert result.left()
    assert all(h.achievement_id in names for h in result.credentials())
    assert result.leaves_done == sum(1 for a in achievements_of(tree) if a in names)


def test_leaf_and_group_types() -> None:
    tree = parse_requirement({"kind": "any", "children": [leaf("a")]})
    assert isinstance(tree, Group)
    assert tree.children == (Leaf("a"),)
    assert tree.needed == 1
