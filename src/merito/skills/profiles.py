"""Verified-skill profiles: evidence from verified credentials -> a weighted skill vector.

A piece of evidence is one skill asserted by one credential that verifies now (the caller
decides that: signature, status and expiry are checked before anything reaches this module).
Its weight is ``proficiency x recency x issuer trust``, each in [0, 1]:

- proficiency: how well the credential says the skill was shown (a result's percentage,
  1.0 when the credential says nothing more than "earned");
- recency: ``0.5 ** (age / half_life)``, the clock being a parameter (no hidden ``now``);
- trust: the issuer's weight, chosen by the caller (e.g. an issuer hosted and verified on this
  platform 1.0, an imported issuer less).

Several credentials proving the same skill combine as a noisy-or, ``1 - prod(1 - w_i)``: more
independent evidence raises the level, never above 1, and the order does not matter. Every
skill keeps the credentials that prove it, so a ranking can cite them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

__all__ = [
    "DEFAULT_HALF_LIFE_DAYS",
    "Evidence",
    "Proof",
    "SkillClaim",
    "SkillProfile",
    "Weighting",
    "build_profile",
    "recency",
]

#: a skill shown five years ago counts half as much as one shown today
DEFAULT_HALF_LIFE_DAYS: Final = 5 * 365.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Evidence:
    """One skill asserted by one verified credential."""

    skill: str
    #: the credential's id (its URL or URN), what an explanation cites
    credential_id: str
    issued_at: datetime
    issuer_id: str | None = None
    issuer_name: str | None = None
    achievement_name: str | None = None
    #: in [0, 1]; 1.0 unless the credential carries a result for the skill
    proficiency: float = 1.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Weighting:
    """How evidence is weighted; the clock is a parameter of ``build_profile``."""

    half_life_days: float = DEFAULT_HALF_LIFE_DAYS
    #: issuer id -> trust in [0, 1]; issuers not listed get ``default_trust``
    trust: Mapping[str, float] = field(default_factory=dict)
    default_trust: float = 1.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Proof:
    """A credential proving a skill, with the weight it contributed."""

    credential_id: str
    issuer_id: str | None
    issuer_name: str | None
    achievement_name: str | None
    issued_at: datetime
    weight: float


@dataclass(frozen=True, slots=True, kw_only=True)
class SkillClaim:
    skill: str
    #: the combined level in [0, 1]
    level: float
    #: strongest first
    proofs: tuple[Proof, ...]


@dataclass(frozen=True, slots=True)
class SkillProfile:
    """A learner's verified skills: skill -> claim (level and proving credentials)."""

    skills: Mapping[str, SkillClaim]

    def level(self, skill: str) -> float:
        claim = self.skills.get(skill)
        return 0.0 if claim is None else claim.level

    def credential_ids(self) -> frozenset[str]:
        return frozenset(p.credential_id for c in self.skills.values() for p in c.proofs)


def recency(issued_at: datetime, now: datetime, half_life_days: float) -> float:
    """``0.5 ** (age / half_life)``; evidence dated in the future counts as new."""
    if half_life_days <= 0:
        return 1.0
    age_days = max(0.0, (now - issued_at).total_seconds() / 86_400.0)
    return math.pow(0.5, age_days / half_life_days)


def _clamp(value: float) -> float:
    if math.isnan(value):
        return 0.0
    return min(1.0, max(0.0, value))


def build_profile(
    evidence: Iterable[Evidence], *, now: datetime, weighting: Weighting | None = None
) -> SkillProfile:
    """Combines the evidence into one claim per skill (noisy-or of the evidence weights).

    The same credential asserting the same skill twice counts once (its strongest weight).
    """
    weighting = weighting or Weighting()
    per_skill: dict[str, dict[str, Proof]] = {}
    for item in evidence:
        trust = weighting.trust.get(item.issuer_id or "", weighting.default_trust)
        weight = (
            _clamp(item.proficiency)
            * recency(item.issued_at, now, weighting.half_life_days)
            * _clamp(trust)
        )
        if weight <= 0.0:
            continue
        proofs = per_skill.setdefault(item.skill, {})
        earlier = proofs.get(item.credential_id)
        if earlier is None or earlier.weight < weight:
            proofs[item.credential_id] = Proof(
                credential_id=item.credential_id,
                issuer_id=item.issuer_id,
                issuer_name=item.issuer_name,
                achievement_name=item.achievement_name,
                issued_at=item.issued_at,
                weight=weight,
            )
    claims: dict[str, SkillClaim] = {}
    for skill, proofs in per_skill.items():
        ordered = tuple(sorted(proofs.values(), key=lambda p: (-p.weight, p.credential_id)))
        missing = 1.0
        for proof in ordered:
            missing *= 1.0 - proof.weight
        claims[skill] = SkillClaim(skill=skill, level=_clamp(1.0 - missing), proofs=ordered)
    return SkillProfile(dict(sorted(claims.items())))
