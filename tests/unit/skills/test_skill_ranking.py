"""Candidate ranking: coverage score, hierarchy partial credit, min levels, explanations."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from merito.skills.profiles import Evidence, SkillProfile, build_profile
from merito.skills.ranking import (
    CandidateIndex,
    Credit,
    Requirement,
    SkillSpace,
    explain,
    rank,
    score_all,
    specificity,
)

NOW = datetime(2026, 6, 1, tzinfo=UTC)
PROG, PY, JAVA, SQL, COOK = "prog", "python", "java", "sql", "cooking"
SPACE = SkillSpace([PROG, PY, JAVA, SQL, COOK], [(PY, PROG), (JAVA, PROG)])


def profile(**levels: float) -> SkillProfile:
    return build_profile(
        [
            Evidence(
                skill=s, credential_id=f"urn:{s}", issued_at=NOW, issuer_id="did:i", proficiency=v
            )
            for s, v in levels.items()
        ],
        now=NOW,
    )


def index(*profiles: SkillProfile) -> CandidateIndex:
    return CandidateIndex.from_profiles(
        SPACE, list(profiles), [f"c{i}" for i in range(len(profiles))]
    )


def test_exact_matches_rank_above_partial_and_unrelated_candidates_are_left_out() -> None:
    role = [Requirement(skill=PY), Requirement(skill=SQL, weight=0.5, required=False)]
    idx = index(profile(python=1, sql=1), profile(prog=1), profile(cooking=1), profile(python=1))
    ranked = rank(idx, role, k=10)
    assert [r.id for r in ranked] == ["c0", "c3", "c1"]
    assert ranked[0].score == pytest.approx(1.0)
    assert ranked[1].score == pytest.approx(1 / 1.5)
    assert ranked[2].score == pytest.approx(0.5 / 1.5)  # broader skill only: half credit


def test_a_narrower_skill_earns_the_narrower_credit() -> None:
    space = SkillSpace([PROG, PY], [(PY, PROG)], credit=Credit(narrower=0.8, broader=0.5))
    idx = CandidateIndex.from_profiles(space, [profile(python=1)], ["c0"])
    (only,) = rank(idx, [Requirement(skill=PROG)])
    assert only.score == pytest.approx(0.8)
    why = explain(profile(python=1), [Requirement(skill=PROG)], space)
    assert why.matches[0].match == "narrower"
    assert why.matches[0].matched_skill == PY


def test_minimum_level_excludes_weak_evidence_and_the_explanation_says_so() -> None:
    role = [Requirement(skill=PY, min_level=0.7)]
    weak = profile(python=0.5)
    assert rank(index(weak), role) == []
    why = explain(weak, role, SPACE)
    assert why.matches[0].status == "below_minimum"
    assert why.matches[0].level == pytest.approx(0.5)
    assert why.missing_required == 1


def test_require_all_keeps_only_candidates_meeting_every_required_skill() -> None:
    role = [Requirement(skill=PY), Requirement(skill=SQL)]
    idx = index(profile(python=1), profile(python=1, sql=1))
    assert [r.id for r in rank(idx, role, require_all=True)] == ["c1"]
    assert [r.missing_required for r in rank(idx, role)] == [0, 1]


def test_explanation_cites_the_proving_credentials_and_lists_what_is_missing() -> None:
    role = [Requirement(skill=PY), Requirement(skill=COOK, required=False)]
    why = explain(profile(python=1), role, SPACE)
    assert why.matches[0].proofs[0].credential_id == "urn:python"
    assert why.matches[0].proofs[0].issuer_id == "did:i"
    assert [m.requirement.skill for m in why.missing] == [COOK]


def test_top_k_is_the_k_best_with_ties_in_row_order() -> None:
    idx = index(*[profile(python=v) for v in (0.2, 0.9, 0.9, 0.5, 0.1)])
    assert [r.id for r in rank(idx, [Requirement(skill=PY)], k=3)] == ["c1", "c2", "c3"]


def test_an_unknown_requirement_skill_counts_against_everyone() -> None:
    role = [Requirement(skill=PY), Requirement(skill="unknown")]
    (only,) = rank(index(profile(python=1)), role)
    assert only.score == pytest.approx(0.5)
    assert explain(profile(python=1), role, SPACE).score == pytest.approx(0.5)


skills = st.sampled_from([PROG, PY, JAVA, SQL, COOK])
levels = st.dictionaries(skills, st.floats(0.05, 1.0), max_size=5)
requirements = st.lists(
    st.builds(
        Requirement,
        skill=skills,
        required=st.booleans(),
        weight=st.floats(0.1, 3.0),
        min_level=st.sampled_from([0.0, 0.3, 0.6, 0.9]),
    ),
    min_size=1,
    max_size=5,
)


@settings(max_examples=150, deadline=None)
@given(st.lists(levels, min_size=1, max_size=8), requirements)
def test_explanations_sum_to_the_ranked_score(
    people: list[dict[str, float]], role: list[Requirement]
) -> None:
    profiles = [profile(**p) for p in people]
    idx = index(*profiles)
    scores, unmet = score_all(idx, role)
    for row, p in enumerate(profiles):
        why = explain(p, role, SPACE)
        assert why.score == pytest.approx(float(scores[row]), abs=1e-5)
        assert sum(m.contribution for m in why.matches) == pytest.approx(why.score)
        assert why.missing_required == int(unmet[row])
    ranked = rank(idx, role, k=len(profiles))
    assert [r.score for r in ranked] == sorted((r.score for r in ranked), reverse=True)
    assert {r.row for r in ranked} == {int(i) for i in np.flatnonzero(scores > 0)}


def test_specificity_weighs_rare_skills_more() -> None:
    assert specificity(0, 3000) == pytest.approx(1.0)
    assert specificity(5, 3000) > specificity(100, 3000) > specificity(2999, 3000)
    assert specificity(2999, 3000) == 0.05  # the floor keeps every requirement positive
    assert specificity(3, 0) == 1.0


@given(st.lists(st.sampled_from([0.2, 0.5, 0.9]), min_size=1, max_size=30), st.integers(1, 30))
def test_the_cut_at_k_keeps_the_first_rows_among_ties(values: list[float], k: int) -> None:
    idx = index(*[profile(python=v) for v in values])
    got = [r.row for r in rank(idx, [Requirement(skill=PY)], k=k)]
    expected = sorted(range(len(values)), key=lambda r: (-values[r], r))[:k]
    assert got == expected
