"""Verified-skill profiles: weights, recency with an injected clock, noisy-or, proofs kept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from merito.skills.profiles import Evidence, Weighting, build_profile, recency

NOW = datetime(2026, 6, 1, tzinfo=UTC)
PY = "http://data.europa.eu/esco/skill/python"
SQL = "http://data.europa.eu/esco/skill/sql"


def ev(skill: str, cred: str, *, days: float = 0, issuer: str = "did:web:a", p: float = 1.0):
    return Evidence(
        skill=skill,
        credential_id=cred,
        issued_at=NOW - timedelta(days=days),
        issuer_id=issuer,
        issuer_name=issuer.upper(),
        proficiency=p,
    )


def test_a_fresh_credential_from_a_trusted_issuer_gives_full_level() -> None:
    profile = build_profile([ev(PY, "urn:c1")], now=NOW)
    assert profile.level(PY) == 1.0
    assert [p.credential_id for p in profile.skills[PY].proofs] == ["urn:c1"]
    assert profile.level(SQL) == 0.0


def test_recency_halves_the_weight_after_one_half_life() -> None:
    profile = build_profile(
        [ev(PY, "urn:c1", days=365)], now=NOW, weighting=Weighting(half_life_days=365)
    )
    assert profile.level(PY) == pytest.approx(0.5)
    assert recency(NOW + timedelta(days=3), NOW, 365) == 1.0  # a future date counts as new


def test_issuer_trust_and_proficiency_multiply() -> None:
    weighting = Weighting(trust={"did:web:low": 0.5}, default_trust=1.0)
    profile = build_profile(
        [ev(PY, "urn:c1", issuer="did:web:low", p=0.8)], now=NOW, weighting=weighting
    )
    assert profile.level(PY) == pytest.approx(0.4)


def test_several_credentials_combine_as_noisy_or_strongest_proof_first() -> None:
    weighting = Weighting(trust={"did:web:b": 0.5})
    profile = build_profile(
        [ev(PY, "urn:weak", issuer="did:web:b"), ev(PY, "urn:strong", p=0.6)],
        now=NOW,
        weighting=weighting,
    )
    assert profile.level(PY) == pytest.approx(1 - 0.5 * 0.4)
    assert [p.credential_id for p in profile.skills[PY].proofs] == ["urn:strong", "urn:weak"]


def test_the_same_credential_counts_once_per_skill() -> None:
    profile = build_profile([ev(PY, "urn:c1", p=0.5), ev(PY, "urn:c1", p=0.7)], now=NOW)
    assert profile.level(PY) == pytest.approx(0.7)


def test_zero_weight_evidence_leaves_no_skill() -> None:
    profile = build_profile([ev(PY, "urn:c1", p=0.0)], now=NOW)
    assert PY not in profile.skills


@given(st.lists(st.tuples(st.floats(0, 1), st.floats(0, 3650)), max_size=8))
def test_levels_stay_in_unit_interval_and_more_evidence_never_lowers(
    items: list[tuple[float, float]],
) -> None:
    evidence = [ev(PY, f"urn:{i}", days=d, p=p) for i, (p, d) in enumerate(items)]
    previous = 0.0
    for n in range(len(evidence) + 1):
        level = build_profile(evidence[:n], now=NOW).level(PY)
        assert 0.0 <= level <= 1.0
        assert level >= previous - 1e-12
        previous = level
