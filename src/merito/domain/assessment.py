"""Assessment, pure: the application state machine, rubric scoring and the decision rules.

An application moves through a small state machine; every move is checked here, so a service
only ever writes a state this module allowed:

    draft ──submit──▶ submitted ──start_review──▶ in_review ──award──▶ awarded
      ▲                   │                        │  │ └──reject──▶ rejected
      └────── revise ── returned ◀──── return ─────┘  │
    draft / submitted / in_review / returned ──withdraw──▶ withdrawn

``awarded``, ``rejected`` and ``withdrawn`` are final. Asking for the move that already
happened (award an awarded application) is idempotent: ``transition`` answers ``None`` (no
change) instead of an error, so a retried request changes nothing and awards once.

A rubric (OB 3.0 §B.1.17 ResultDescription with §B.1.18 RubricCriterionLevel) has criteria,
each with levels carrying a descriptor and points; a review scores every criterion with one of
its levels. A decision rule turns the reviews of one round into an outcome.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from merito.errors import Conflict, InvalidInput

__all__ = [
    "ACTIONS",
    "DECISIONS",
    "FINAL_STATES",
    "RULES",
    "STATES",
    "Criterion",
    "DecisionRule",
    "Level",
    "Outcome",
    "Review",
    "Rubric",
    "Score",
    "decide",
    "parse_rubric",
    "result_levels",
    "score",
    "transition",
]

State = Literal["draft", "submitted", "in_review", "returned", "awarded", "rejected", "withdrawn"]
Action = Literal["submit", "start_review", "award", "return", "reject", "revise", "withdraw"]
Decision = Literal["award", "return", "reject"]
RuleName = Literal["all_agree", "majority", "average_score"]

STATES: Final[tuple[State, ...]] = (
    "draft",
    "submitted",
    "in_review",
    "returned",
    "awarded",
    "rejected",
    "withdrawn",
)
ACTIONS: Final[tuple[Action, ...]] = (
    "submit",
    "start_review",
    "award",
    "return",
    "reject",
    "revise",
    "withdraw",
)
DECISIONS: Final[tuple[Decision, ...]] = ("award", "return", "reject")
RULES: Final[tuple[RuleName, ...]] = ("all_agree", "majority", "average_score")
FINAL_STATES: Final = frozenset({"awarded", "rejected", "withdrawn"})

#: (from, action) -> to
_MOVES: Final[Mapping[tuple[str, str], State]] = {
    ("draft", "submit"): "submitted",
    ("submitted", "start_review"): "in_review",
    ("submitted", "award"): "awarded",
    ("submitted", "return"): "returned",
    ("submitted", "reject"): "rejected",
    ("in_review", "award"): "awarded",
    ("in_review", "return"): "returned",
    ("in_review", "reject"): "rejected",
    ("returned", "revise"): "draft",
    ("returned", "submit"): "submitted",
    ("draft", "withdraw"): "withdrawn",
    ("submitted", "withdraw"): "withdrawn",
    ("in_review", "withdraw"): "withdrawn",
    ("returned", "withdraw"): "withdrawn",
}
#: action -> the state it leads to when that is already where the application is
_DONE: Final[Mapping[str, str]] = {
    "award": "awarded",
    "reject": "rejected",
    "withdraw": "withdrawn",
    "start_review": "in_review",
    "submit": "submitted",
}


def transition(state: str, action: str) -> State | None:
    """The state ``action`` leads to from ``state``; None when it is already done (idempotent).

    Conflict for a move the machine does not allow (it names both), InvalidInput for an
    unknown state or action.
    """
    if state not in STATES:
        raise InvalidInput(f"unknown application state {state!r}", property="state")
    if action not in ACTIONS:
        raise InvalidInput(
            f"unknown action {action!r}; one of {', '.join(ACTIONS)}", property="action"
        )
    if _DONE.get(action) == state:
        return None
    to = _MOVES.get((state, action))
    if to is None:
        if state in FINAL_STATES:
            raise Conflict(
                f"the application is {state}: it cannot {action.replace('_', ' ')} any more",
                property="state",
            )
        raise Conflict(
            f"an application that is {state.replace('_', ' ')} cannot {action.replace('_', ' ')}",
            property="state",
        )
    return to


# --- rubrics ------------------------------------------------------------------------------------

_KEY: Final = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")
MAX_CRITERIA: Final = 30
MAX_LEVELS: Final = 10


@dataclass(frozen=True, slots=True)
class Level:
    key: str
    name: str
    description: str
    points: float


@dataclass(frozen=True, slots=True)
class Criterion:
    key: str
    name: str
    description: str
    levels: tuple[Level, ...]

    @property
    def max_points(self) -> float:
        return max(level.points for level in self.levels)

    def level(self, key: str) -> Level | None:
        return next((lv for lv in self.levels if lv.key == key), None)


@dataclass(frozen=True, slots=True)
class Rubric:
    criteria: tuple[Criterion, ...]

    @property
    def max_points(self) -> float:
        return sum(c.max_points for c in self.criteria)

    def to_json(self) -> dict[str, Any]:
        return {
            "criteria": [
                {
                    "key": c.key,
                    "name": c.name,
                    "description": c.description,
                    "levels": [
                        {
                            "key": lv.key,
                            "name": lv.name,
                            "description": lv.description,
                            "points": lv.points,
                        }
                        for lv in c.levels
                    ],
                }
                for c in self.criteria
            ]
        }


def _text(value: Any, prop: str, *, limit: int, required: bool = True) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise InvalidInput(f"{prop} must be a non-empty string", property=prop)
    text = value.strip()
    if len(text) > limit:
        raise InvalidInput(f"{prop} is longer than {limit} characters", property=prop)
    return text


def _key(value: Any, prop: str, fallback: str) -> str:
    if value is None or value == "":
        return fallback
    if not isinstance(value, str) or not _KEY.fullmatch(value):
        raise InvalidInput(
            f"{prop} must be 1-40 lower-case letters, digits or '-' (e.g. 'analysis')",
            property=prop,
        )
    return value


def parse_rubric(data: Any) -> Rubric:
    """A rubric from JSON: ``{"criteria": [{"name", "description"?, "key"?, "levels": [{"name",
    "description"?, "points", "key"?}]}]}``; InvalidInput names the offending property."""
    if not isinstance(data, Mapping):
        raise InvalidInput("rubric must be an object with 'criteria'", property="rubric")
    items = data.get("criteria")
    if not isinstance(items, Sequence) or isinstance(items, str) or not items:
        raise InvalidInput("rubric.criteria must be a non-empty list", property="rubric.criteria")
    if len(items) > MAX_CRITERIA:
        raise InvalidInput(
            f"rubric.criteria has more than {MAX_CRITERIA} criteria", property="rubric.criteria"
        )
    criteria: list[Criterion] = []
    for n, item in enumerate(items):
        prop = f"rubric.criteria[{n}]"
        if not isinstance(item, Mapping):
            raise InvalidInput(f"{prop} must be an object", property=prop)
        key = _key(item.get("key"), f"{prop}.key", f"c{n + 1}")
        raw_levels = item.get("levels")
        if not isinstance(raw_levels, Sequence) or isinstance(raw_levels, str):
            raise InvalidInput(f"{prop}.levels must be a list", property=f"{prop}.levels")
        if not 2 <= len(raw_levels) <= MAX_LEVELS:
            raise InvalidInput(
                f"{prop}.levels must have 2 to {MAX_LEVELS} levels", property=f"{prop}.levels"
            )
        levels: list[Level] = []
        for m, raw in enumerate(raw_levels):
            lprop = f"{prop}.levels[{m}]"
            if not isinstance(raw, Mapping):
                raise InvalidInput(f"{lprop} must be an object", property=lprop)
            points = raw.get("points")
            if isinstance(points, bool) or not isinstance(points, int | float):
                raise InvalidInput(f"{lprop}.points must be a number", property=f"{lprop}.points")
            if not 0 <= points <= 1000:
                raise InvalidInput(
                    f"{lprop}.points must be between 0 and 1000", property=f"{lprop}.points"
                )
            levels.append(
                Level(
                    key=_key(raw.get("key"), f"{lprop}.key", f"l{m + 1}"),
                    name=_text(raw.get("name"), f"{lprop}.name", limit=200),
                    description=_text(
                        raw.get("description"), f"{lprop}.description", limit=2000, required=False
                    ),
                    points=float(points),
                )
            )
        if len({lv.key for lv in levels}) != len(levels):
            raise InvalidInput(f"{prop}.levels have duplicate keys", property=f"{prop}.levels")
        criteria.append(
            Criterion(
                key=key,
                name=_text(item.get("name"), f"{prop}.name", limit=200),
                description=_text(
                    item.get("description"), f"{prop}.description", limit=2000, required=False
                ),
                levels=tuple(levels),
            )
        )
    if len({c.key for c in criteria}) != len(criteria):
        raise InvalidInput("rubric.criteria have duplicate keys", property="rubric.criteria")
    rubric = Rubric(tuple(criteria))
    if rubric.max_points <= 0:
        raise InvalidInput("the rubric's levels are all worth 0 points", property="rubric")
    return rubric


@dataclass(frozen=True, slots=True)
class Score:
    """A review's scores: criterion key -> level key, with the points they add up to."""

    levels: Mapping[str, str]
    points: float
    max_points: float

    @property
    def fraction(self) -> float:
        return self.points / self.max_points if self.max_points else 0.0


def score(rubric: Rubric, levels: Mapping[str, Any]) -> Score:
    """Checks that every criterion has exactly one of its levels; the points they add up to."""
    if not isinstance(levels, Mapping):
        raise InvalidInput("scores must map criterion keys to level keys", property="scores")
    known = {c.key for c in rubric.criteria}
    unknown = sorted(set(levels) - known)
    if unknown:
        raise InvalidInput(
            f"scores names criteria the rubric does not have: {', '.join(map(str, unknown))}",
            property=f"scores.{unknown[0]}",
        )
    points = 0.0
    chosen: dict[str, str] = {}
    for criterion in rubric.criteria:
        key = levels.get(criterion.key)
        if key is None:
            raise InvalidInput(
                f"scores.{criterion.key}: score the criterion {criterion.name!r}",
                property=f"scores.{criterion.key}",
            )
        level = criterion.level(key) if isinstance(key, str) else None
        if level is None:
            allowed = ", ".join(lv.key for lv in criterion.levels)
            raise InvalidInput(
                f"scores.{criterion.key}: {key!r} is not one of its levels ({allowed})",
                property=f"scores.{criterion.key}",
            )
        chosen[criterion.key] = level.key
        points += level.points
    return Score(levels=chosen, points=points, max_points=rubric.max_points)


# --- decision rules -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DecisionRule:
    """How the reviews of one round decide: ``reviews_required`` independent reviews, then

    - ``all_agree``: award only when every review awards; otherwise the commonest other
      decision (a tie between return and reject returns: the milder one).
    - ``majority``: the commonest decision; a tie waits for one more review (a tie-breaker).
    - ``average_score``: award when the mean score reaches ``min_score`` (a fraction of the
      rubric's points) and no majority rejects; a majority of rejects rejects; else return.
    """

    rule: RuleName = "all_agree"
    reviews_required: int = 1
    min_score: float = 0.0

    def __post_init__(self) -> None:
        if self.rule not in RULES:
            raise InvalidInput(
                f"decision_rule.rule must be one of {', '.join(RULES)}",
                property="decision_rule.rule",
            )
        if not 1 <= self.reviews_required <= 10:
            raise InvalidInput(
                "decision_rule.reviews_required must be between 1 and 10",
                property="decision_rule.reviews_required",
            )
        if not 0.0 <= self.min_score <= 1.0:
            raise InvalidInput(
                "decision_rule.min_score must be a fraction between 0 and 1",
                property="decision_rule.min_score",
            )

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "reviews_required": self.reviews_required,
            "min_score": self.min_score,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> DecisionRule:
        if data is None:
            return cls()
        if not isinstance(data, Mapping):
            raise InvalidInput("decision_rule must be an object", property="decision_rule")
        extra = sorted(set(data) - {"rule", "reviews_required", "min_score"})
        if extra:
            raise InvalidInput(
                f"decision_rule has unknown members: {', '.join(extra)}",
                property=f"decision_rule.{extra[0]}",
            )
        required = data.get("reviews_required", 1)
        min_score = data.get("min_score", 0.0)
        if isinstance(required, bool) or not isinstance(required, int):
            raise InvalidInput(
                "decision_rule.reviews_required must be an integer",
                property="decision_rule.reviews_required",
            )
        if isinstance(min_score, bool) or not isinstance(min_score, int | float):
            raise InvalidInput(
                "decision_rule.min_score must be a number", property="decision_rule.min_score"
            )
        return cls(
            rule=data.get("rule", "all_agree"),
            reviews_required=required,
            min_score=float(min_score),
        )


@dataclass(frozen=True, slots=True)
class Review:
    decision: Decision
    score: Score | None


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the reviews decided (None: wait for more reviews) and why, in words."""

    decision: Decision | None
    explanation: str


def decide(rule: DecisionRule, reviews: Sequence[Review]) -> Outcome:
    """The outcome of one round's reviews under ``rule``."""
    needed = rule.reviews_required
    if len(reviews) < needed:
        return Outcome(None, f"{len(reviews)} of {needed} reviews")
    counts = Counter(r.decision for r in reviews)
    if rule.rule == "all_agree":
        if counts["award"] == len(reviews):
            return Outcome("award", f"all {len(reviews)} reviews award")
        others = {d: n for d, n in counts.items() if d != "award"}
        worst: Decision = (
            "reject" if others.get("reject", 0) > others.get("return", 0) else "return"
        )
        return Outcome(worst, f"not all reviews award ({_counted(counts)})")
    if rule.rule == "majority":
        ranked = counts.most_common()
        if len(ranked) > 1 and ranked[0][1] == ranked[1][1]:
            return Outcome(None, f"a tie ({_counted(counts)}): one more review decides")
        return Outcome(ranked[0][0], f"majority: {_counted(counts)}")
    fractions = [r.score.fraction for r in reviews if r.score is not None]
    if not fractions:
        return Outcome("return", "no review scored the rubric")
    mean = statistics.fmean(fractions)
    if counts["reject"] * 2 > len(reviews):
        return Outcome("reject", f"a majority rejects ({_counted(counts)})")
    if mean >= rule.min_score:
        return Outcome("award", f"mean score {mean:.0%} reaches {rule.min_score:.0%}")
    return Outcome("return", f"mean score {mean:.0%} is below {rule.min_score:.0%}")


def _counted(counts: Counter[Decision]) -> str:
    return ", ".join(f"{n} {d}" for d, n in sorted(counts.items()))


def result_levels(rubric: Rubric, scores: Sequence[Score]) -> dict[str, Level]:
    """Per criterion, the level the credential records: the lower median of the reviewers'
    points (with one reviewer, their level), so one generous reviewer cannot lift it."""
    out: dict[str, Level] = {}
    for criterion in rubric.criteria:
        chosen = sorted(
            (criterion.level(s.levels[criterion.key]) for s in scores),
            key=lambda lv: lv.points if lv is not None else -1,
        )
        picked = [lv for lv in chosen if lv is not None]
        if picked:
            out[criterion.key] = picked[(len(picked) - 1) // 2]
    return out
