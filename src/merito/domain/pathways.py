"""Pathways (stacked credentials): requirement trees over achievements and their evaluation.

A pathway's requirement is a tree. A leaf names one achievement; a group is

- ``all``: every child is satisfied,
- ``any``: at least one child is,
- ``n_of``: at least ``n`` of its ``M`` children are (``1 <= n <= M``),

and may add ``min_hours`` (the hours of its satisfied children add up to at least that; a
leaf's hours are its achievement's ``hours`` metadata), ``within_days`` (the credentials
used under it were all earned within that many days of each other) and ``earned_after``
(only credentials earned on or after that instant count under it).

``evaluate`` is pure: given the credentials a learner verifiably holds, it returns a progress
tree saying, per node, whether it is satisfied, which credential satisfies each leaf and what
is left. A ``within_days`` group tries every window that starts at one of the learner's
credentials under it and keeps the best one (satisfied first, then the most leaves done).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final, Literal

from merito.domain.achievements import parse_datetime
from merito.errors import InvalidInput

__all__ = [
    "GROUP_KINDS",
    "MAX_CHILDREN",
    "MAX_DEPTH",
    "MAX_NODES",
    "Group",
    "Held",
    "Leaf",
    "Progress",
    "Requirement",
    "achievements_of",
    "evaluate",
    "find_cycle",
    "parse_requirement",
    "requirement_json",
    "validate",
]

GroupKind = Literal["all", "any", "n_of"]
GROUP_KINDS: Final[tuple[GroupKind, ...]] = ("all", "any", "n_of")
#: a tree deeper, wider or larger than this is refused (evaluation stays cheap, pages readable)
MAX_DEPTH: Final = 5
MAX_CHILDREN: Final = 50
MAX_NODES: Final = 200
MAX_HOURS: Final = 100_000.0
MAX_WINDOW_DAYS: Final = 36_500
_ID_LENGTH: Final = 100


@dataclass(frozen=True, slots=True)
class Leaf:
    """One achievement to hold."""

    achievement_id: str


@dataclass(frozen=True, slots=True)
class Group:
    """ALL / ANY / N-of-M over its children, with optional hours and time constraints."""

    kind: GroupKind
    children: tuple[Requirement, ...]
    n: int | None = None
    min_hours: float | None = None
    within_days: int | None = None
    earned_after: datetime | None = None

    @property
    def needed(self) -> int:
        """How many children must be satisfied."""
        if self.kind == "all":
            return len(self.children)
        if self.kind == "any":
            return 1
        return self.n or 0


Requirement = Leaf | Group


@dataclass(frozen=True, slots=True)
class Held:
    """A credential the learner verifiably holds (the caller decides what counts)."""

    credential_id: str
    achievement_id: str
    issued_at: datetime
    #: the caller's own reference (e.g. the credential's row id), carried through
    ref: str | None = None


@dataclass(frozen=True, slots=True)
class Progress:
    """The evaluation of one node: satisfied or not, what is done and what is left."""

    node: Requirement
    satisfied: bool
    #: a leaf's satisfying credential (None: not held, or not within the constraints)
    held: Held | None = None
    children: tuple[Progress, ...] = ()
    #: a group's satisfied children
    done: int = 0
    #: hours of the satisfied leaves reached through satisfied children
    hours: float = 0.0
    #: a ``within_days`` group's chosen window
    window: tuple[datetime, datetime] | None = None
    leaves_total: int = 1
    leaves_done: int = 0

    @property
    def needed(self) -> int:
        return self.node.needed if isinstance(self.node, Group) else 1

    @property
    def hours_short(self) -> float:
        """Hours still missing at this node (0 when it asks for none or has them)."""
        if isinstance(self.node, Group) and self.node.min_hours is not None:
            return max(0.0, self.node.min_hours - self.hours)
        return 0.0

    def credentials(self) -> list[Held]:
        """The credentials that count: the leaves reached through satisfied nodes only, in
        tree order (a leaf held inside a branch that is not satisfied does not count)."""
        out: list[Held] = []
        if not self.satisfied:
            return out
        if self.held is not None:
            out.append(self.held)
        for child in self.children:
            out += child.credentials()
        return out

    def left(self) -> list[str]:
        """The achievements not yet held under the nodes not yet satisfied."""
        out: list[str] = []
        if self.satisfied:
            return out
        if isinstance(self.node, Leaf):
            return [self.node.achievement_id]
        for child in self.children:
            out += child.left()
        return out

    def walk(self) -> Iterator[Progress]:
        yield self
        for child in self.children:
            yield from child.walk()


# --- parsing and validation ----------------------------------------------------------------------


def _number(value: Any, prop: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(f"{prop} must be a number", property=prop)
    return float(value)


def _moment(value: Any, prop: str) -> datetime:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime.combine(value, time(0, 0), tzinfo=UTC)
    elif isinstance(value, str):
        text = value.strip()
        try:
            if len(text) == 10:
                moment = datetime.combine(date.fromisoformat(text), time(0, 0), tzinfo=UTC)
            else:
                moment = parse_datetime(text)
        except ValueError:
            raise InvalidInput(
                f"{prop} {text!r} is not a date (2026-01-31) or a date-time with a zone",
                property=prop,
            ) from None
    else:
        raise InvalidInput(f"{prop} must be a date such as 2026-01-31", property=prop)
    if moment.tzinfo is None:
        raise InvalidInput(f"{prop} needs a timezone (e.g. ...Z)", property=prop)
    return moment.astimezone(UTC)


_LEAF_KEYS: Final = frozenset({"kind", "achievement_id"})
_GROUP_KEYS: Final = frozenset(
    {"kind", "children", "n", "min_hours", "within_days", "earned_after"}
)


def parse_requirement(data: Any, *, prop: str = "requirement") -> Requirement:
    """A requirement tree from its JSON form; InvalidInput names the offending property.

    The root must be a group. Limits: depth ``MAX_DEPTH``, ``MAX_CHILDREN`` children per
    group, ``MAX_NODES`` nodes; an achievement appears at most once.
    """
    counter = [0]
    seen: dict[str, str] = {}
    node = _parse(data, prop=prop, depth=1, counter=counter, seen=seen)
    if isinstance(node, Leaf):
        raise InvalidInput(
            f"{prop} must be a group (kind all, any or n_of), not a single achievement",
            property=f"{prop}.kind",
        )
    return node


def _parse(
    data: Any, *, prop: str, depth: int, counter: list[int], seen: dict[str, str]
) -> Requirement:
    if not isinstance(data, Mapping):
        raise InvalidInput(f"{prop} must be an object", property=prop)
    counter[0] += 1
    if counter[0] > MAX_NODES:
        raise InvalidInput(f"the requirement has more than {MAX_NODES} nodes", property=prop)
    if depth > MAX_DEPTH:
        raise InvalidInput(
            f"{prop} is nested deeper than {MAX_DEPTH} levels", property=f"{prop}.children"
        )
    kind = data.get("kind")
    if kind == "achievement":
        unknown = sorted(set(data) - _LEAF_KEYS)
        if unknown:
            raise InvalidInput(
                f"{prop} has unknown member {unknown[0]!r}", property=f"{prop}.{unknown[0]}"
            )
        aid = data.get("achievement_id")
        if not isinstance(aid, str) or not aid.strip() or len(aid) > _ID_LENGTH:
            raise InvalidInput(
                f"{prop}.achievement_id must be an achievement id",
                property=f"{prop}.achievement_id",
            )
        aid = aid.strip()
        if aid in seen:
            raise InvalidInput(
                f"achievement {aid!r} appears twice ({seen[aid]} and {prop})",
                property=f"{prop}.achievement_id",
            )
        seen[aid] = prop
        return Leaf(aid)
    if kind not in GROUP_KINDS:
        raise InvalidInput(
            f"{prop}.kind must be one of all, any, n_of, achievement (got {kind!r})",
            property=f"{prop}.kind",
        )
    unknown = sorted(set(data) - _GROUP_KEYS)
    if unknown:
        raise InvalidInput(
            f"{prop} has unknown member {unknown[0]!r}", property=f"{prop}.{unknown[0]}"
        )
    raw = data.get("children")
    if not isinstance(raw, list) or not raw:
        raise InvalidInput(f"{prop}.children must be a non-empty list", property=f"{prop}.children")
    if len(raw) > MAX_CHILDREN:
        raise InvalidInput(
            f"{prop}.children has more than {MAX_CHILDREN} entries", property=f"{prop}.children"
        )
    children = tuple(
        _parse(c, prop=f"{prop}.children[{i}]", depth=depth + 1, counter=counter, seen=seen)
        for i, c in enumerate(raw)
    )
    n: int | None = None
    if kind == "n_of":
        value = data.get("n")
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidInput(f"{prop}.n must be a whole number", property=f"{prop}.n")
        if not 1 <= value <= len(children):
            raise InvalidInput(
                f"{prop}.n must be between 1 and the number of children ({len(children)}); "
                f"got {value}",
                property=f"{prop}.n",
            )
        n = value
    elif data.get("n") is not None:
        raise InvalidInput(f"{prop}.n is only for kind n_of", property=f"{prop}.n")
    min_hours: float | None = None
    if data.get("min_hours") is not None:
        min_hours = _number(data["min_hours"], f"{prop}.min_hours")
        if not 0 < min_hours <= MAX_HOURS:
            raise InvalidInput(
                f"{prop}.min_hours must be more than 0 and at most {MAX_HOURS:g}",
                property=f"{prop}.min_hours",
            )
    within: int | None = None
    if data.get("within_days") is not None:
        value = data["within_days"]
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidInput(
                f"{prop}.within_days must be a whole number of days",
                property=f"{prop}.within_days",
            )
        if not 1 <= value <= MAX_WINDOW_DAYS:
            raise InvalidInput(
                f"{prop}.within_days must be between 1 and {MAX_WINDOW_DAYS}",
                property=f"{prop}.within_days",
            )
        within = value
    after = None
    if data.get("earned_after") is not None:
        after = _moment(data["earned_after"], f"{prop}.earned_after")
    return Group(
        kind=kind,
        children=children,
        n=n,
        min_hours=min_hours,
        within_days=within,
        earned_after=after,
    )


def requirement_json(node: Requirement) -> dict[str, Any]:
    """The JSON form ``parse_requirement`` reads (a round trip is the identity)."""
    if isinstance(node, Leaf):
        return {"kind": "achievement", "achievement_id": node.achievement_id}
    out: dict[str, Any] = {
        "kind": node.kind,
        "children": [requirement_json(c) for c in node.children],
    }
    if node.n is not None:
        out["n"] = node.n
    if node.min_hours is not None:
        out["min_hours"] = node.min_hours
    if node.within_days is not None:
        out["within_days"] = node.within_days
    if node.earned_after is not None:
        out["earned_after"] = node.earned_after.isoformat().replace("+00:00", "Z")
    return out


def achievements_of(node: Requirement) -> tuple[str, ...]:
    """Every achievement the tree names, in tree order."""
    if isinstance(node, Leaf):
        return (node.achievement_id,)
    return tuple(a for c in node.children for a in achievements_of(c))


def validate(
    node: Requirement, *, known: Mapping[str, float | None], prop: str = "requirement"
) -> None:
    """Every achievement is one of ``known`` (id -> its hours, None when it has none) and
    every ``min_hours`` can be met by the achievements under it."""
    if isinstance(node, Leaf):
        if node.achievement_id not in known:
            raise InvalidInput(
                f"{prop}: achievement {node.achievement_id!r} is not one this pathway may use "
                "(its own organisation's, or a published one of a trusted issuer)",
                property=f"{prop}.achievement_id",
            )
        return
    for i, child in enumerate(node.children):
        validate(child, known=known, prop=f"{prop}.children[{i}]")
    if node.min_hours is not None:
        total = sum(known.get(a) or 0.0 for a in achievements_of(node))
        if total < node.min_hours:
            raise InvalidInput(
                f"{prop}.min_hours {node.min_hours:g} cannot be met: the achievements under "
                f"it total {total:g} hours",
                property=f"{prop}.min_hours",
            )


def find_cycle(edges: Mapping[str, Iterable[str]]) -> list[str] | None:
    """A cycle in the graph ``achievement -> achievements its pathway requires``, or None.

    Returned as the path ``[a, b, ..., a]``.
    """
    white, grey, black = 0, 1, 2
    colour: dict[str, int] = {}
    for start in sorted(edges):
        if colour.get(start, white) != white:
            continue
        path: list[str] = [start]
        stack: list[Iterator[str]] = [iter(sorted(edges.get(start, ())))]
        colour[start] = grey
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                stack.pop()
                colour[path.pop()] = black
                continue
            state = colour.get(nxt, white)
            if state == grey:
                return [*path[path.index(nxt) :], nxt]
            if state == white:
                colour[nxt] = grey
                path.append(nxt)
                stack.append(iter(sorted(edges.get(nxt, ()))))
    return None


# --- evaluation -----------------------------------------------------------------------------------

_FAR_PAST: Final = datetime.min.replace(tzinfo=UTC)
_FAR_FUTURE: Final = datetime.max.replace(tzinfo=UTC)


def evaluate(
    node: Requirement, held: Iterable[Held], *, hours: Mapping[str, float | None]
) -> Progress:
    """Evaluates the tree over the learner's credentials; ``hours``: achievement -> hours."""
    by_achievement: dict[str, list[Held]] = {}
    for h in held:
        if h.issued_at.tzinfo is None:
            raise ValueError("Held.issued_at must be timezone-aware")
        by_achievement.setdefault(h.achievement_id, []).append(h)
    for items in by_achievement.values():
        # the most recent first: a leaf shows the newest proof that fits
        items.sort(key=lambda h: (h.issued_at, h.credential_id), reverse=True)
    return _Evaluation(by_achievement, hours).node(node, _FAR_PAST, _FAR_FUTURE)


class _Evaluation:
    """One evaluation: the learner's credentials by achievement, and a memo of the nodes
    already evaluated between two instants (nested windows ask for the same ones again, so
    the search stays polynomial instead of multiplying at every level)."""

    def __init__(
        self, held: Mapping[str, Sequence[Held]], hours: Mapping[str, float | None]
    ) -> None:
        self.held = held
        self.hours = hours
        self.memo: dict[tuple[int, datetime, datetime], Progress] = {}
        self.names: dict[int, tuple[str, ...]] = {}
        self.times: dict[int, list[datetime]] = {}

    def node(self, node: Requirement, lo: datetime, hi: datetime) -> Progress:
        if isinstance(node, Leaf):
            return _eval(self, node, lo, hi)
        # only the credentials between lo and hi matter: bounds holding the same ones are
        # the same question (narrowed to the first and last of them)
        instants = self.instants(node)
        first, last = bisect_left(instants, lo), bisect_right(instants, hi) - 1
        if first > last:
            lo, hi = _FAR_FUTURE, _FAR_PAST  # none: an empty range
        else:
            lo, hi = instants[first], instants[last]
        key = (id(node), lo, hi)
        found = self.memo.get(key)
        if found is None:
            found = self.memo[key] = _eval(self, node, lo, hi)
        return found

    def instants(self, node: Requirement) -> list[datetime]:
        found = self.times.get(id(node))
        if found is None:
            found = self.times[id(node)] = sorted(
                {h.issued_at for a in self.achievements(node) for h in self.held.get(a, ())}
            )
        return found

    def achievements(self, node: Requirement) -> tuple[str, ...]:
        names = self.names.get(id(node))
        if names is None:
            names = self.names[id(node)] = achievements_of(node)
        return names


def _eval(ev: _Evaluation, node: Requirement, lo: datetime, hi: datetime) -> Progress:
    held, hours = ev.held, ev.hours
    if isinstance(node, Leaf):
        found = next(
            (h for h in held.get(node.achievement_id, ()) if lo <= h.issued_at <= hi), None
        )
        if found is None:
            return Progress(node=node, satisfied=False)
        return Progress(
            node=node,
            satisfied=True,
            held=found,
            hours=hours.get(node.achievement_id) or 0.0,
            leaves_done=1,
        )
    if node.earned_after is not None:
        lo = max(lo, node.earned_after)
    if node.within_days is None or lo > hi:
        return _group(ev, node, lo, hi, window=None)
    span = timedelta(days=node.within_days)
    starts = sorted(
        {
            h.issued_at
            for a in ev.achievements(node)
            for h in held.get(a, ())
            if lo <= h.issued_at <= hi
        }
    )
    best: Progress | None = None
    for start in starts:
        end = min(hi, start + span) if start <= _FAR_FUTURE - span else hi
        candidate = _group(ev, node, start, end, window=(start, end))
        if best is None or _better(candidate, best):
            best = candidate
        if best.satisfied and best.leaves_done == best.leaves_total:
            break  # nothing can beat every leaf done (later windows only tie)
    return best if best is not None else _group(ev, node, lo, hi, window=None)


def _better(a: Progress, b: Progress) -> bool:
    """Satisfied beats not; then more leaves done, more hours, the later window."""
    key_a = (a.satisfied, a.leaves_done, a.hours, a.window[0] if a.window else _FAR_PAST)
    key_b = (b.satisfied, b.leaves_done, b.hours, b.window[0] if b.window else _FAR_PAST)
    return key_a > key_b


def _group(
    ev: _Evaluation,
    node: Group,
    lo: datetime,
    hi: datetime,
    *,
    window: tuple[datetime, datetime] | None,
) -> Progress:
    children = tuple(ev.node(c, lo, hi) for c in node.children)
    done = sum(1 for c in children if c.satisfied)
    total_hours = sum(c.hours for c in children if c.satisfied)
    satisfied = done >= node.needed and (node.min_hours is None or total_hours >= node.min_hours)
    return Progress(
        node=node,
        satisfied=satisfied,
        children=children,
        done=done,
        hours=total_hours,
        window=window,
        leaves_total=sum(c.leaves_total for c in children),
        leaves_done=sum(c.leaves_done for c in children),
    )
