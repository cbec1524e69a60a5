"""k-anonymous aggregates: counts over fewer than k people are suppressed, with complements.

A published count is either 0 or at least ``k`` people ("primary" suppression hides the
rest). Hiding a cell is not enough when a total is also published: the total minus the visible
cells gives the hidden remainder back (a differencing attack). So within one partition (the
groups of a slicing, e.g. teams, and their total) "complementary" suppression hides more
cells until the hidden remainder is 0 or covers at least ``k`` people: the smallest visible
non-zero cells first. The same applies to the groups' sizes.

What this protects: one published table (a partition of the people and its total row), and
every table computed from the same current population. What it does not: differencing between
two publications at different times (someone leaves, the counts change by one), and
intersections of two different partitions (team x role); see docs/workforce.md.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["Partition", "protect_column", "protect_partition", "publishable"]

G = TypeVar("G", bound=Hashable)


def publishable(count: int, k: int) -> bool:
    """A count of people may be shown: nobody, or at least k."""
    if k < 1:
        raise ValueError("k must be at least 1")
    return count == 0 or count >= k


def protect_column(
    values: Mapping[G, int], k: int, *, hidden: frozenset[G] = frozenset()
) -> dict[G, int | None]:
    """One column of a partition (a count per group), suppressed so that neither a cell nor
    the total minus the visible cells reveals fewer than ``k`` people.

    ``hidden``: groups whose cells are suppressed anyway (a group itself too small).
    Returns each group's count or None (suppressed). The column's total is published by the
    caller with ``publishable(sum(values.values()), k)``.
    """
    if k < 1:
        raise ValueError("k must be at least 1")
    if any(v < 0 for v in values.values()):
        raise ValueError("counts are never negative")
    out: dict[G, int | None] = {
        g: None if g in hidden or not publishable(v, k) else v for g, v in values.items()
    }

    def remainder() -> int:
        return sum(values[g] for g, v in out.items() if v is None)

    # the hidden remainder must be 0 or >= k; hide the smallest visible non-zero cells first
    while 0 < remainder() < k:
        visible = sorted((v, str(g), g) for g, v in out.items() if v is not None and v > 0)
        if not visible:
            break
        out[visible[0][2]] = None
    return out


@dataclass(frozen=True, slots=True)
class Partition(Generic[G]):
    """A partition's groups after suppression: their sizes (None: suppressed) and the total."""

    sizes: Mapping[G, int | None]
    total: int | None

    @property
    def hidden(self) -> frozenset[G]:
        return frozenset(g for g, v in self.sizes.items() if v is None)


def protect_partition(sizes: Mapping[G, int], k: int) -> Partition[G]:
    """Group sizes of one partition, suppressed like a column (a group of fewer than k people
    is hidden, and enough others that the hidden groups hold 0 or at least k people)."""
    protected = protect_column(sizes, k)
    total = sum(sizes.values())
    return Partition(sizes=protected, total=total if publishable(total, k) else None)
