"""k-anonymous aggregates: no published cell, nor the total minus the visible cells, reveals
fewer than k people."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from merito.skills.aggregates import protect_column, protect_partition, publishable


def test_publishable_counts_are_zero_or_at_least_k() -> None:
    assert [publishable(n, 5) for n in (0, 1, 4, 5, 9)] == [True, False, False, True, True]
    with pytest.raises(ValueError, match="k must be"):
        publishable(1, 0)


def test_a_lone_small_group_takes_the_next_smallest_with_it() -> None:
    # without the complement, total (9) - a (6) would give b's 3 back
    protected = protect_partition({"a": 6, "b": 3}, 5)
    assert protected.sizes == {"a": None, "b": None}
    assert protected.total == 9


def test_small_groups_hidden_together_can_leave_the_rest_visible() -> None:
    protected = protect_partition({"a": 7, "b": 2, "c": 3}, 5)
    assert protected.sizes == {"a": 7, "b": None, "c": None}
    assert protected.hidden == frozenset({"b", "c"})


def test_a_column_hides_the_cells_of_hidden_groups_and_its_own_small_cells() -> None:
    column = protect_column({"a": 5, "b": 0, "c": 6, "d": 2}, 5, hidden=frozenset({"b"}))
    # d (2) is small; b is hidden but holds 0: the remainder 2 needs a complement (a, 5)
    assert column == {"a": None, "b": None, "c": 6, "d": None}


def test_negative_counts_are_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        protect_column({"a": -1}, 5)


@given(
    st.dictionaries(st.sampled_from("abcdefgh"), st.integers(0, 12), min_size=1),
    st.integers(2, 6),
)
def test_no_differencing_of_one_table_reveals_fewer_than_k(values: dict[str, int], k: int) -> None:
    column = protect_column(values, k)
    visible = [v for v in column.values() if v is not None]
    assert all(publishable(v, k) for v in visible)
    total = sum(values.values())
    if publishable(total, k):
        remainder = total - sum(visible)
        assert publishable(remainder, k)
