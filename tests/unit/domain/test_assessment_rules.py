"""The application state machine (every state x every action), rubric scoring and the
decision rules, pure."""

from __future__ import annotations

import pytest

from merito.domain import assessment as a
from merito.errors import Conflict, InvalidInput

#: every allowed move, and nothing else
ALLOWED = {
    ("draft", "submit"): "submitted",
    ("draft", "withdraw"): "withdrawn",
    ("submitted", "start_review"): "in_review",
    ("submitted", "award"): "awarded",
    ("submitted", "return"): "returned",
    ("submitted", "reject"): "rejected",
    ("submitted", "withdraw"): "withdrawn",
    ("in_review", "award"): "awarded",
    ("in_review", "return"): "returned",
    ("in_review", "reject"): "rejected",
    ("in_review", "withdraw"): "withdrawn",
    ("returned", "revise"): "draft",
    ("returned", "submit"): "submitted",
    ("returned", "withdraw"): "withdrawn",
}
#: asking again for what already happened changes nothing
IDEMPOTENT = {
    ("awarded", "award"),
    ("rejected", "reject"),
    ("withdrawn", "withdraw"),
    ("in_review", "start_review"),
    ("submitted", "submit"),
}


@pytest.mark.parametrize("state", a.STATES)
@pytest.mark.parametrize("action", a.ACTIONS)
def test_every_transition(state: str, action: str) -> None:
    if (state, action) in ALLOWED:
        assert a.transition(state, action) == ALLOWED[(state, action)]
    elif (state, action) in IDEMPOTENT:
        assert a.transition(state, action) is None
    else:
        with pytest.raises(Conflict) as caught:
            a.transition(state, action)
        assert caught.value.property == "state"
        assert state.replace("_", " ") in caught.value.message
        assert action.replace("_", " ") in caught.value.message


def test_final_states_say_so() -> None:
    with pytest.raises(Conflict, match="awarded: it cannot reject any more"):
        a.transition("awarded", "reject")
    with pytest.raises(Conflict, match="withdrawn: it cannot submit"):
        a.transition("withdrawn", "submit")


def test_unknown_state_or_action_is_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="unknown application state"):
        a.transition("lost", "submit")
    with pytest.raises(InvalidInput, match="unknown action 'approve'"):
        a.transition("draft", "approve")


RUBRIC = {
    "criteria": [
        {
            "key": "analysis",
            "name": "Analysis",
            "levels": [
                {"key": "novice", "name": "Novice", "points": 0},
                {"key": "competent", "name": "Competent", "points": 2},
                {"key": "expert", "name": "Expert", "points": 4},
            ],
        },
        {
            "name": "Communication",
            "levels": [{"name": "Unclear", "points": 0}, {"name": "Clear", "points": 2}],
        },
    ]
}


def test_rubric_parses_with_default_keys_and_scores() -> None:
    rubric = a.parse_rubric(RUBRIC)
    assert [c.key for c in rubric.criteria] == ["analysis", "c2"]
    assert [lv.key for lv in rubric.criteria[1].levels] == ["l1", "l2"]
    assert rubric.max_points == 6
    scored = a.score(rubric, {"analysis": "competent", "c2": "l2"})
    assert (scored.points, scored.max_points) == (4, 6)
    assert scored.fraction == pytest.approx(4 / 6)


@pytest.mark.parametrize(
    ("data", "prop"),
    [
        ({}, "rubric.criteria"),
        ({"criteria": [{"name": "x", "levels": [{"name": "a", "points": 1}]}]}, "levels"),
        ({"criteria": [{"name": "", "levels": [{"name": "a", "points": 1}] * 2}]}, "name"),
        (
            {"criteria": [{"name": "x", "levels": [{"name": "a", "points": "1"}] * 2}]},
            "points",
        ),
        (
            {"criteria": [{"name": "x", "key": "A B", "levels": [{"name": "a", "points": 1}] * 2}]},
            "key",
        ),
        ({"criteria": [{"name": "x", "levels": [{"name": "a", "points": 0}] * 2}]}, "rubric"),
    ],
)
def test_bad_rubrics_name_the_property(data: dict[str, object], prop: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        a.parse_rubric(data)
    assert prop in (caught.value.property or "")


def test_scores_must_cover_every_criterion_with_its_levels() -> None:
    rubric = a.parse_rubric(RUBRIC)
    with pytest.raises(InvalidInput, match="score the criterion 'Communication'"):
        a.score(rubric, {"analysis": "expert"})
    with pytest.raises(InvalidInput, match="'master' is not one of its levels"):
        a.score(rubric, {"analysis": "master", "c2": "l1"})
    with pytest.raises(InvalidInput, match="does not have: style"):
        a.score(rubric, {"analysis": "expert", "c2": "l1", "style": "l1"})


def _reviews(*decisions: str, fractions: tuple[float, ...] = ()) -> list[a.Review]:
    out = []
    for n, d in enumerate(decisions):
        score = None
        if fractions:
            score = a.Score(levels={}, points=fractions[n] * 10, max_points=10)
        out.append(a.Review(decision=d, score=score))  # type: ignore[arg-type]
    return out


def test_decision_waits_for_the_required_reviews() -> None:
    rule = a.DecisionRule(rule="all_agree", reviews_required=2)
    assert a.decide(rule, _reviews("award")).decision is None
    assert a.decide(rule, _reviews("award", "award")).decision == "award"
    assert a.decide(rule, _reviews("award", "reject")).decision == "reject"
    assert a.decide(rule, _reviews("return", "reject")).decision == "return"


def test_majority_breaks_ties_with_one_more_review() -> None:
    rule = a.DecisionRule(rule="majority", reviews_required=2)
    assert a.decide(rule, _reviews("award", "reject")).decision is None
    assert a.decide(rule, _reviews("award", "reject", "award")).decision == "award"


def test_average_score_threshold() -> None:
    rule = a.DecisionRule(rule="average_score", reviews_required=2, min_score=0.7)
    assert a.decide(rule, _reviews("award", "return", fractions=(0.8, 0.7))).decision == "award"
    assert a.decide(rule, _reviews("award", "award", fractions=(0.6, 0.7))).decision == "return"
    assert a.decide(rule, _reviews("reject", "reject", fractions=(1, 1))).decision == "reject"


def test_decision_rule_checks_its_members() -> None:
    with pytest.raises(InvalidInput, match="reviews_required must be between 1 and 10"):
        a.DecisionRule.from_json({"reviews_required": 0})
    with pytest.raises(InvalidInput, match="rule must be one of"):
        a.DecisionRule.from_json({"rule": "dictator"})
    with pytest.raises(InvalidInput, match="unknown members: quorum"):
        a.DecisionRule.from_json({"quorum": 3})


def test_result_levels_take_the_lower_median() -> None:
    rubric = a.parse_rubric(RUBRIC)
    scores = [
        a.score(rubric, {"analysis": "expert", "c2": "l2"}),
        a.score(rubric, {"analysis": "novice", "c2": "l2"}),
        a.score(rubric, {"analysis": "competent", "c2": "l1"}),
    ]
    levels = a.result_levels(rubric, scores)
    assert levels["analysis"].key == "competent"
    assert levels["c2"].key == "l2"
    assert a.result_levels(rubric, scores[:2])["analysis"].key == "novice"
